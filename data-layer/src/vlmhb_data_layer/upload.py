"""Artifact upload: a run folder to ``<url>/<run-id>/`` with a manifest.

Files whose sha256 already matches the remote manifest are skipped; large files go in
multipart (boto3's TransferConfig); a transient error is retried with exponential backoff.
Nothing local is ever modified, and a failure lists exactly which files are missing remotely.
Symbolic links are never followed out of the run folder (they are skipped and listed in
``warnings``), and the data layer's own ``.vlmhb-*`` files are not uploaded.

This is the run-bundle format (a folder per run with its ``manifest.json``); to copy a folder's
contents as they are, use ``SmartSyncManager.mirror`` (``vlmhb-data sync``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .storage import local_files, open_storage, sha256_of
from .urls import DataLayerError, parse_location, safe_key

log = logging.getLogger(__name__)
REMOTE_MANIFEST = "manifest.json"


@dataclass
class UploadResult:
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        return f"uploaded {len(self.uploaded)}, skipped {len(self.skipped)}, failed {len(self.missing)}"


def upload_run(
    local_dir: Path,
    url: str,
    run_id: str,
    *,
    endpoint_url: str | None = None,
    retries: int = 4,
    backoff_s: float = 0.5,
    **storage_options: Any,
) -> UploadResult:
    local_dir = Path(local_dir)
    if not local_dir.is_dir():
        raise DataLayerError(f"{local_dir}: expected a run folder to upload")
    safe_key(run_id)  # a run id is one folder name below the URL, never a way out of it
    location = parse_location(url)
    base = location.prefix if location.scheme == "s3" else ""
    prefix = "/".join(p for p in (base, run_id.strip("/")) if p)
    if location.scheme == "s3":
        target = f"s3://{location.bucket}/{prefix}"
    else:
        assert location.path is not None
        target = str(location.path / run_id)
    files, warnings = local_files(local_dir)
    storage = open_storage(target, endpoint_url=endpoint_url, **storage_options)
    remote_raw = storage.read_bytes(REMOTE_MANIFEST)
    try:
        remote: dict[str, dict[str, Any]] = json.loads(remote_raw) if remote_raw else {}
    except ValueError:
        remote = {}  # a damaged remote manifest only costs re-uploading
    if not isinstance(remote, dict):
        remote = {}
    result = UploadResult(warnings=warnings)
    manifest: dict[str, dict[str, Any]] = {}
    for key, path in files.items():
        if key == REMOTE_MANIFEST:
            result.warnings.append(
                f"skipped {path}: {REMOTE_MANIFEST} at the top of a run folder is reserved "
                "for the upload's own manifest"
            )
            continue
        check_key = getattr(storage, "check_key", None)
        try:
            if check_key is not None:
                check_key(key)  # a key S3 refuses is not worth retrying
            entry = {"size": path.stat().st_size, "sha256": sha256_of(path)}
        except (DataLayerError, OSError) as exc:
            result.missing.append(key)
            result.errors[key] = str(exc) if isinstance(exc, DataLayerError) else f"{path}: {exc}"
            continue
        if remote.get(key) == entry:
            result.skipped.append(key)
            manifest[key] = entry
            continue
        for attempt in range(retries + 1):
            try:
                storage.upload(path, key)
                result.uploaded.append(key)
                manifest[key] = entry
                break
            except DataLayerError as exc:
                result.errors[key] = str(exc)
                if attempt == retries:
                    result.missing.append(key)
                else:
                    time.sleep(backoff_s * 2**attempt)
        else:  # pragma: no cover - the loop always breaks or records
            pass
        if key in manifest:
            result.errors.pop(key, None)
    try:
        storage.write_bytes(
            REMOTE_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode()
        )
    except DataLayerError as exc:
        result.missing.append(REMOTE_MANIFEST)
        result.errors[REMOTE_MANIFEST] = str(exc)
    log.info("upload %s -> %s: %s", local_dir, target, result)
    return result
