"""SmartSyncManager: mirror a dataset into a local folder (or a local folder to S3), fetching
only what changed.

A local destination keeps its record of what it holds in two reserved files: the snapshot
``.vlmhb-manifest.json`` (path -> size and ETag/sha256) and the append-only journal
``.vlmhb-journal.jsonl``, one line per file written or removed, flushed as it happens. The
journal is folded into the snapshot at the end of a sync (and every ``save_every`` files), so a
process killed at any point (even ``kill -9``) leaves a record that is exact up to the file it
was writing: the next sync skips what arrived, removes temporary files left behind and, when a
file it had fetched is gone at the source, removes it too.

A sync lists the source once and checks every key before writing anything: keys that would
escape the folder, keys that make one path both a file and a folder (``a`` and ``a/b``), and
names too long for the filesystem are refused with an error naming them. S3 folder markers
(``sub/``) are not files and are skipped; source keys named like our state (``.vlmhb-*``) are
skipped with a warning. A file lock lets two runs share one destination: the second waits, then
finds the work done.

Deletion at the destination (``delete``): ``"synced"`` (the default of :meth:`sync`, for caches)
removes files this folder got from the source that are gone there; ``"all"`` also removes any
other file not at the source (``aws s3 sync --delete``); ``"none"`` removes nothing (the default
of :meth:`mirror` and of ``vlmhb-data sync``, as with ``aws s3 sync``).
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from .storage import (
    LocalStorage,
    ObjectInfo,
    S3Storage,
    make_parents,
    open_storage,
    s3_etag_matches,
    temp_path,
)
from .urls import DataLayerError, is_reserved, is_temporary, parse_location, safe_key

log = logging.getLogger(__name__)
MANIFEST = ".vlmhb-manifest.json"
JOURNAL = ".vlmhb-journal.jsonl"
LOCK = ".vlmhb-sync.lock"
DeleteMode = Literal["synced", "all", "none"]
_DELETE_MODES = ("synced", "all", "none")
_SHOWN = 10  # problems named in one error message


@dataclass
class SyncResult:
    transferred: list[str] = field(default_factory=list)
    skipped: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        return (
            f"transferred {len(self.transferred)}, skipped {self.skipped}, "
            f"removed {len(self.removed)}, failed {len(self.failed)}"
        )

    __str__ = summary


class _CacheState:
    """What a local destination holds: the snapshot plus the journal folded into it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[str, dict[str, Any]] = {}
        self._journal: Any = None

    def load(self) -> None:
        try:
            raw = json.loads((self.root / MANIFEST).read_text(encoding="utf-8"))
        except (ValueError, OSError):
            raw = {}  # missing or damaged: only costs a re-check
        self.entries = (
            {key: value for key, value in raw.items() if isinstance(value, dict)}
            if isinstance(raw, dict)
            else {}
        )
        try:
            lines = (self.root / JOURNAL).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
                op, key = record["op"], record["key"]
            except (ValueError, KeyError, TypeError):
                continue  # the line a killed process was writing
            if not isinstance(key, str):
                continue
            if op == "put":
                self.entries[key] = {"size": record.get("size"), "etag": record.get("etag")}
            elif op == "begin":  # renamed into place, or about to be: content unknown
                self.entries[key] = {"size": None, "etag": None}
            elif op == "del":
                self.entries.pop(key, None)

    def record(self, op: str, key: str, info: ObjectInfo | None = None) -> None:
        if self._journal is None:
            self._journal = (self.root / JOURNAL).open("a", encoding="utf-8")
        line: dict[str, Any] = {"op": op, "key": key}
        if info is not None:
            line.update(size=info.size, etag=info.etag)
            self.entries[key] = {"size": info.size, "etag": info.etag}
        elif op == "begin":
            self.entries[key] = {"size": None, "etag": None}
        elif op == "del":
            self.entries.pop(key, None)
        self._journal.write(json.dumps(line) + "\n")
        self._journal.flush()  # in the kernel's hands: survives the process being killed

    def fold(self) -> None:
        """Write the snapshot, then drop the journal (replaying it again would be harmless)."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        tmp = temp_path(self.root / MANIFEST)
        try:
            tmp.write_text(json.dumps(self.entries, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.root / MANIFEST)
        finally:
            tmp.unlink(missing_ok=True)
        (self.root / JOURNAL).unlink(missing_ok=True)


def _name_limits(root: Path) -> tuple[int, int]:
    try:
        return os.pathconf(root, "PC_NAME_MAX"), os.pathconf(root, "PC_PATH_MAX")
    except (OSError, ValueError, AttributeError):
        return 255, 4096


def _plan(
    listing: dict[str, ObjectInfo], root: Path, warnings: list[str]
) -> dict[str, tuple[str, ObjectInfo]]:
    """Relative path -> (source key, info) for every data key, or an error naming bad keys.

    Every check runs before anything is written, so a bad key cannot leave half a sync.
    """
    plan: dict[str, tuple[str, ObjectInfo]] = {}
    problems: list[str] = []
    name_max, path_max = _name_limits(root)
    root_bytes = len(os.fsencode(str(root.resolve())))
    for key, info in sorted(listing.items()):
        relative = safe_key(key)  # raises at once: a key that escapes is an attack, not a typo
        if is_reserved(relative):
            warnings.append(
                f"skipped key {key!r}: names starting with .vlmhb- are reserved for sync state"
            )
            continue
        if relative in plan:
            problems.append(f"keys {plan[relative][0]!r} and {key!r} name the same file")
            continue
        encoded = [len(part.encode("utf-8", "surrogateescape")) for part in relative.split("/")]
        if max(encoded) > name_max:
            problems.append(
                f"key {key!r}: a name in it is {max(encoded)} bytes, longer than this "
                f"filesystem allows ({name_max})"
            )
            continue
        if root_bytes + 1 + sum(encoded) + len(encoded) >= path_max:
            problems.append(f"key {key!r}: the path would be longer than this system allows")
            continue
        plan[relative] = (key, info)
    for relative, (key, _) in plan.items():
        parts = relative.split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if parent in plan:
                problems.append(
                    f"keys {plan[parent][0]!r} and {key!r} conflict: {parent!r} would be both "
                    "a file and a folder"
                )
                break
    if problems:
        shown = "; ".join(problems[:_SHOWN])
        more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
        raise DataLayerError(
            f"refusing {len(problems)} key(s) before writing anything: {shown}{more}"
        )
    return plan


def _scan(root: Path) -> set[str]:
    """The data files under ``root`` (links included, not followed); stale temp files removed.

    Only called under the folder's lock, so every temporary file found is a leftover of a
    process that died (``kill -9``, power loss) and is safe to delete.
    """
    found: set[str] = set()
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in filenames:
            path = base / name
            if is_temporary(name):
                path.unlink(missing_ok=True)
                log.info("removed %s, left over by an interrupted sync", path)
                continue
            relative = path.relative_to(root).as_posix()
            if not is_reserved(relative):
                found.add(relative)
        links = {d for d in dirnames if (base / d).is_symlink()}
        for name in links:  # a link is removable (never followed), not walked
            relative = (base / name).relative_to(root).as_posix()
            if not is_reserved(relative):
                found.add(relative)
        dirnames[:] = [d for d in dirnames if d not in links and not is_reserved(d)]
    return found


def _remove(root: Path, relative: str) -> bool:
    """Delete one file (never through a link), then any folders it leaves empty."""
    try:
        relative = safe_key(relative)
    except DataLayerError:
        return False
    path = root / relative
    if not path.parent.resolve().is_relative_to(root.resolve()):
        return False
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(mode):
        return False
    path.unlink()
    folder = path.parent
    while folder != root:
        try:
            folder.rmdir()  # only succeeds when empty
        except OSError:
            break
        folder = folder.parent
    return True


def _nested(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


class SmartSyncManager:
    def __init__(
        self,
        endpoint_url: str | None = None,
        *,
        lock_timeout: float = 3600,
        save_every: int = 1000,
        **storage_options: Any,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.lock_timeout = lock_timeout
        self.save_every = save_every  # journal lines between two snapshots
        self.storage_options = storage_options

    def sync(
        self,
        source: str,
        cache_dir: Path,
        *,
        on_file: Callable[[str], Any] | None = None,
        delete: DeleteMode = "synced",
    ) -> SyncResult:
        """Mirror ``source`` (s3:// or a local folder) into the local folder ``cache_dir``.

        Raises DataLayerError naming the key, file or URL at fault; what arrived before a
        failure is kept and recorded, so running it again resumes.
        """
        if delete not in _DELETE_MODES:
            raise DataLayerError(f"delete={delete!r}: expected one of {', '.join(_DELETE_MODES)}")
        cache = Path(cache_dir)
        location = parse_location(source)
        if location.scheme == "local":
            assert location.path is not None
            if location.path.exists() and _nested(location.path, cache):
                raise DataLayerError(
                    f"{source} -> {cache}: the source and the destination overlap; "
                    "expected two separate folders"
                )
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataLayerError(f"{cache}: cannot create the folder: {exc.strerror}") from exc
        with FileLock(str(cache / LOCK), timeout=self.lock_timeout):
            return self._sync_locked(source, cache, on_file, delete)

    def mirror(
        self,
        source: str,
        destination: str,
        *,
        delete: DeleteMode = "none",
        on_file: Callable[[str], Any] | None = None,
    ) -> SyncResult:
        """Make ``destination`` hold the contents of ``source``, like ``aws s3 sync``.

        Either side is a local folder or an s3:// URL (not both s3://): the files under
        ``source`` land at the same relative paths under ``destination``, so mirroring back
        gives the same files again. ``delete`` defaults to ``"none"``: extra files at the
        destination are kept unless ``"all"`` is asked for.
        """
        target = parse_location(destination)
        if target.scheme == "local":
            assert target.path is not None
            return self.sync(source, target.path, on_file=on_file, delete=delete)
        origin = parse_location(source)
        if origin.scheme == "s3":
            raise DataLayerError(
                f"{source} -> {destination}: copying between two s3:// locations is not "
                "supported; sync through a local folder"
            )
        if delete == "synced":
            raise DataLayerError(
                "delete='synced' needs a local destination (it keeps the record); "
                "use 'all' or 'none' for s3://"
            )
        if delete not in _DELETE_MODES:
            raise DataLayerError(f"delete={delete!r}: expected one of {', '.join(_DELETE_MODES)}")
        assert origin.path is not None
        storage = S3Storage(
            target.bucket, target.prefix, endpoint_url=self.endpoint_url, **self.storage_options
        )
        return self._push(origin.path, storage, destination, on_file, delete)

    def _push(
        self,
        root: Path,
        storage: S3Storage,
        destination: str,
        on_file: Callable[[str], Any] | None,
        delete: DeleteMode,
    ) -> SyncResult:
        local = LocalStorage(root)
        files = local.files()
        result = SyncResult(warnings=list(local.warnings))
        problems = []
        for key in files:
            try:
                storage.check_key(key)
            except DataLayerError as exc:
                problems.append(str(exc))
        if problems:
            raise DataLayerError(
                f"refusing {len(problems)} file(s) before uploading anything: "
                + "; ".join(problems[:_SHOWN])
            )
        remote = {k: v for k, v in storage.list().items() if not is_reserved(k)}
        result.warnings += storage.warnings
        try:
            for key, path in files.items():
                known = remote.get(key)
                if (
                    known is not None
                    and known.size == path.stat().st_size
                    and s3_etag_matches(path, known.etag, storage.part_sizes)
                ):
                    result.skipped += 1
                    continue
                storage.upload(path, key)
                result.transferred.append(key)
                if on_file is not None:
                    on_file(key)
            if delete == "all":
                extra = sorted(set(remote) - set(files))
                storage.delete(extra)
                result.removed += extra
        except (DataLayerError, OSError) as exc:
            reason = str(exc) if isinstance(exc, DataLayerError) else f"{exc.strerror or exc}"
            result.failed.append((destination, reason))
            raise DataLayerError(
                f"sync of {root} to {destination} interrupted after "
                f"{len(result.transferred)} file(s): {reason}; run it again to resume"
            ) from exc
        log.info("sync %s -> %s: %s", root, destination, result.summary())
        return result

    def _sync_locked(
        self,
        source: str,
        cache: Path,
        on_file: Callable[[str], Any] | None,
        delete: DeleteMode,
    ) -> SyncResult:
        storage = open_storage(source, endpoint_url=self.endpoint_url, **self.storage_options)
        listing = storage.list()
        result = SyncResult(warnings=list(storage.warnings))
        plan = _plan(listing, cache, result.warnings)
        for warning in result.warnings[len(storage.warnings) :]:
            log.warning("%s", warning)
        present = _scan(cache)
        state = _CacheState(cache)
        state.load()
        state.fold()  # start from one snapshot and an empty journal
        current = ""
        try:
            # Removals first, so a path that turns from a file into a folder (or back) is free.
            gone = set(state.entries) - set(plan) if delete != "none" else set()
            if delete == "all":
                gone |= present - set(plan)
            for relative in sorted(gone):
                current = relative
                _remove(cache, relative)
                if relative in state.entries:
                    state.record("del", relative)
                result.removed.append(relative)
            pending = 0
            for relative, (key, info) in plan.items():
                current = key
                target = cache / relative
                if state.entries.get(relative) == {"size": info.size, "etag": info.etag}:
                    try:
                        st = target.lstat()
                    except FileNotFoundError:
                        st = None
                    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == info.size:
                        result.skipped += 1
                        continue
                target = make_parents(cache, relative, key)
                tmp = temp_path(target)
                try:
                    storage.download(key, tmp)
                    state.record("begin", relative)
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
                state.record("put", relative, info)
                result.transferred.append(key)
                pending += 1
                if pending >= self.save_every:
                    state.fold()
                    pending = 0
                if on_file is not None:
                    on_file(key)
        except (DataLayerError, OSError) as exc:
            reason = (
                str(exc)
                if isinstance(exc, DataLayerError)
                else f"key {current!r}: {exc.strerror or exc}"
            )
            result.failed.append((current, reason))
            raise DataLayerError(
                f"sync of {source} interrupted after {len(result.transferred)} "
                f"file(s): {reason}; run it again to resume"
            ) from exc
        finally:
            state.fold()
        log.info("sync %s -> %s: %s", source, cache, result.summary())
        return result
