"""Storage: list, fetch and put files in a local folder or an S3 bucket prefix.

Credentials come from boto3's usual chain (arguments, ``AWS_*`` variables, config files, or the
user part of the endpoint URL) and are never logged, printed or put in an error message.

A listing holds data files only: S3 folder markers (``prefix/sub/``, as consoles create them)
and names reserved for the data layer (``.vlmhb-*``) are left out, and a local listing never
follows a symbolic link out of its root (such links are skipped, and said so in ``warnings``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .urls import (
    TEMP_PREFIX,
    DataLayerError,
    Location,
    is_reserved,
    parse_location,
    redact,
    safe_key,
    split_endpoint,
)

log = logging.getLogger(__name__)
CHUNK = 1 << 20
S3_MAX_KEY_BYTES = 1024


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str  # S3's ETag, or sha256 for local files: equal tags mean equal content


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def s3_etag_matches(path: Path, etag: str, part_sizes: Iterable[int]) -> bool:
    """Whether S3's ETag for an object equals the local file's content.

    A single-part upload's ETag is the MD5 of the content; a multipart one is the MD5 of the
    parts' MD5s plus ``-<parts>``, which depends on the part size the uploader chose, so the
    usual candidates are tried. A server that uses other ETags (SSE-KMS) never matches, which
    only costs a re-upload.
    """
    etag = etag.strip('"')
    size = path.stat().st_size
    if "-" not in etag:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        return digest.hexdigest() == etag
    body, _, count = etag.partition("-")
    if not count.isdigit():
        return False
    for part_size in dict.fromkeys(part_sizes):
        if part_size <= 0 or -(-size // part_size) != int(count):
            continue
        combined = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as handle:
            for part in iter(lambda size=part_size: handle.read(size), b""):
                combined.update(hashlib.md5(part, usedforsecurity=False).digest())
        if combined.hexdigest() == body:
            return True
    return False


def temp_path(target: Path) -> Path:
    """A temporary file beside ``target`` (same filesystem, so the rename is atomic).

    Its name has a fixed length (a key near the filesystem's name limit still fits) and the
    reserved prefix, so it is never listed as data and a later sync removes it if left over.
    """
    tag = hashlib.sha1(target.name.encode("utf-8", "surrogateescape"), usedforsecurity=False)
    return target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{tag.hexdigest()[:16]}")


def make_parents(root: Path, relative: str, key: str) -> Path:
    """``root / relative`` after creating its folders, refusing to write through a link.

    A folder that is a symbolic link (it could lead anywhere) or a file where a folder is
    needed is an error naming the key and the path in the way, instead of a traceback.
    """
    folder = root
    for part in relative.split("/")[:-1]:
        folder = folder / part
        try:
            mode = folder.lstat().st_mode
        except FileNotFoundError:
            try:
                folder.mkdir()
            except FileExistsError:  # made meanwhile by another process
                pass
            except OSError as exc:
                raise DataLayerError(
                    f"cannot write key {key!r}: creating {folder}: {exc.strerror or exc}"
                ) from exc
            continue
        if stat.S_ISLNK(mode):
            raise DataLayerError(
                f"cannot write key {key!r}: {folder} is a symbolic link; links are not followed"
            )
        if not stat.S_ISDIR(mode):
            raise DataLayerError(
                f"cannot write key {key!r}: {folder} is a file at the destination, not a folder"
            )
    target = root / relative
    if target.is_dir() and not target.is_symlink():  # a link in the way is replaced, not followed
        raise DataLayerError(
            f"cannot write key {key!r}: {target} is a folder at the destination, not a file"
        )
    return target


def local_files(root: Path) -> tuple[dict[str, Path], list[str]]:
    """The regular files under ``root`` (relative POSIX path -> path to read), and warnings.

    Symbolic links are never followed out of ``root``: a link to a file inside the root is
    read as that file; a link that leaves the root, dangles or names a folder is skipped, as is
    anything that is not a regular file (a FIFO would hang the read). Each skip is a warning
    naming the path, so a user sees why a file did not arrive.
    """
    if not root.is_dir():
        raise DataLayerError(f"{root}: expected an existing folder")
    real_root = root.resolve()
    files: dict[str, Path] = {}
    warnings: list[str] = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        kept = []
        for name in sorted(dirnames):
            path = base / name
            relative = path.relative_to(root).as_posix()
            if is_reserved(relative):
                continue
            if path.is_symlink():
                warnings.append(f"skipped {path}: a symbolic link to a folder is not followed")
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = base / name
            relative = path.relative_to(root).as_posix()
            if is_reserved(relative):
                continue
            try:
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode):
                    real = path.resolve()
                    if not real.is_relative_to(real_root):
                        warnings.append(
                            f"skipped {path}: a symbolic link out of the source folder "
                            f"(to {os.readlink(path)})"
                        )
                        continue
                    if not real.is_file():
                        warnings.append(f"skipped {path}: a symbolic link to a non-file")
                        continue
                    files[relative] = real
                elif stat.S_ISREG(mode):
                    files[relative] = path
                else:
                    warnings.append(f"skipped {path}: not a regular file")
            except OSError as exc:
                warnings.append(f"skipped {path}: {exc.strerror or exc}")
    for warning in warnings:
        log.warning("%s", warning)
    return dict(sorted(files.items())), warnings


class Storage(Protocol):
    warnings: list[str]

    def list(self) -> dict[str, ObjectInfo]: ...
    def download(self, key: str, dest: Path) -> None: ...
    def upload(self, path: Path, key: str) -> None: ...
    def read_bytes(self, key: str) -> bytes | None: ...
    def write_bytes(self, key: str, data: bytes) -> None: ...
    def delete(self, keys: list[str]) -> None: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.warnings: list[str] = []
        self._files: dict[str, Path] = {}

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def files(self) -> dict[str, Path]:
        """Relative path -> path to read, for the data files (see :func:`local_files`)."""
        self._files, self.warnings = local_files(self.root)
        return self._files

    def list(self) -> dict[str, ObjectInfo]:
        return {
            key: ObjectInfo(path.stat().st_size, sha256_of(path))
            for key, path in self.files().items()
        }

    def _source(self, key: str) -> Path:
        """The file to read for ``key``, checked again now (a link may have changed)."""
        path = self.root / safe_key(key)
        real = path.resolve()
        if not real.is_relative_to(self.root.resolve()) or not real.is_file():
            raise DataLayerError(
                f"{path}: not a regular file inside {self.root} (links out of it are not followed)"
            )
        return real

    def download(self, key: str, dest: Path) -> None:
        source = self._source(key)
        try:
            shutil.copyfile(source, dest)
        except OSError as exc:
            raise DataLayerError(f"copying {source} to {dest}: {exc.strerror or exc}") from exc

    def _target(self, key: str) -> Path:
        relative = safe_key(key)
        if is_reserved(relative):
            raise DataLayerError(f"refusing key {key!r}: names starting with .vlmhb- are reserved")
        self.root.mkdir(parents=True, exist_ok=True)
        return make_parents(self.root, relative, key)

    def upload(self, path: Path, key: str) -> None:
        target = self._target(key)
        tmp = temp_path(target)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise DataLayerError(f"copying {path} to {target}: {exc.strerror or exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def read_bytes(self, key: str) -> bytes | None:
        path = self.root / safe_key(key)
        return path.read_bytes() if path.is_file() and not path.is_symlink() else None

    def write_bytes(self, key: str, data: bytes) -> None:
        target = self._target(key)
        tmp = temp_path(target)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            (self.root / safe_key(key)).unlink(missing_ok=True)


class S3Storage:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = 64 * 2**20,
        max_attempts: int = 5,
        client: Any = None,
    ) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        endpoint, key_id, secret = split_endpoint(endpoint_url)
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix.strip("/"), endpoint
        self.warnings: list[str] = []
        config = Config(
            retries={"max_attempts": max_attempts, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
        )
        credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=config,
            **(credentials if key_id and secret else {}),
        )
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=max(5 * 2**20, multipart_threshold),
        )

    def __repr__(self) -> str:  # never the credentials
        return f"S3Storage(s3://{self.bucket}/{self.prefix}, endpoint={self.endpoint_url})"

    @property
    def part_sizes(self) -> list[int]:
        """Multipart part sizes an object here was likely uploaded with (ours, then aws-cli's)."""
        return [self.transfer.multipart_chunksize, 8 * 2**20]

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def check_key(self, key: str) -> None:
        """Refuse a key S3 would refuse, before any transfer starts."""
        if len(self._key(key).encode("utf-8", "surrogateescape")) > S3_MAX_KEY_BYTES:
            raise DataLayerError(
                f"key {self._key(key)!r} is longer than S3 allows ({S3_MAX_KEY_BYTES} bytes)"
            )

    def _explain(self, exc: Exception, what: str) -> DataLayerError:
        from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            hints = {
                "NoSuchBucket": f"bucket {self.bucket!r} does not exist",
                "InvalidAccessKeyId": "the access key is not known to the server (check credentials)",
                "SignatureDoesNotMatch": "the secret key does not match (check credentials)",
                "AccessDenied": "access denied (check credentials and bucket policy)",
            }
            return DataLayerError(f"{what}: {hints.get(code, code or redact(str(exc)))}")
        if isinstance(exc, NoCredentialsError):
            return DataLayerError(
                f"{what}: no S3 credentials (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
            )
        if isinstance(exc, EndpointConnectionError):
            return DataLayerError(f"{what}: cannot reach {self.endpoint_url or 'S3'}")
        if isinstance(exc, OSError) and not type(exc).__module__.startswith(("botocore", "url")):
            return DataLayerError(f"{what}: {exc.strerror or exc}")
        return DataLayerError(f"{what}: {type(exc).__name__}: {redact(str(exc))}")

    def list(self) -> dict[str, ObjectInfo]:
        listing: dict[str, ObjectInfo] = {}
        self.warnings = []
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start
            ):
                for item in page.get("Contents", []):
                    key = item["Key"][len(start) :]
                    if key == "" or key.endswith("/"):  # a folder marker, not a file
                        if item["Size"]:
                            self.warnings.append(
                                f"skipped s3://{self.bucket}/{item['Key']}: a key ending in '/' "
                                f"holds {item['Size']} bytes but cannot be a file"
                            )
                        continue
                    listing[key] = ObjectInfo(item["Size"], item["ETag"].strip('"'))
        except Exception as exc:
            raise self._explain(exc, f"listing s3://{self.bucket}/{self.prefix}") from exc
        for warning in self.warnings:
            log.warning("%s", warning)
        return listing

    def download(self, key: str, dest: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(key), str(dest), Config=self.transfer)
        except Exception as exc:
            raise self._explain(exc, f"downloading {key!r}") from exc

    def upload(self, path: Path, key: str) -> None:
        self.check_key(key)
        try:
            self.client.upload_file(str(path), self.bucket, self._key(key), Config=self.transfer)
        except Exception as exc:
            raise self._explain(exc, f"uploading {path} to {key!r}") from exc

    def read_bytes(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None
        except Exception as exc:
            raise self._explain(exc, f"reading {key!r}") from exc

    def write_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as exc:
            raise self._explain(exc, f"writing {key!r}") from exc

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = keys[start : start + 1000]
            try:
                answer = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._key(k)} for k in batch], "Quiet": True},
                )
            except Exception as exc:
                raise self._explain(exc, f"deleting {len(batch)} key(s) from {self!r}") from exc
            errors = answer.get("Errors", [])
            if errors:
                named = ", ".join(f"{e.get('Key')!r} ({e.get('Code')})" for e in errors[:5])
                raise DataLayerError(f"deleting from s3://{self.bucket}: failed for {named}")


def open_storage(
    url: str | Location, *, endpoint_url: str | None = None, **options: Any
) -> Storage:
    location = parse_location(url) if isinstance(url, str) else url
    if location.scheme == "s3":
        return S3Storage(location.bucket, location.prefix, endpoint_url=endpoint_url, **options)
    assert location.path is not None
    return LocalStorage(location.path)
