"""Storage (local folders, S3), manifest-based smart sync and mirrors, and run artifact upload."""

from .storage import LocalStorage, ObjectInfo, S3Storage, Storage, open_storage, sha256_of
from .sync import DeleteMode, SmartSyncManager, SyncResult
from .upload import UploadResult, upload_run
from .urls import RESERVED_PREFIX, DataLayerError, Location, parse_location, redact, safe_key

__all__ = [
    "RESERVED_PREFIX",
    "DataLayerError",
    "DeleteMode",
    "LocalStorage",
    "Location",
    "ObjectInfo",
    "S3Storage",
    "SmartSyncManager",
    "Storage",
    "SyncResult",
    "UploadResult",
    "open_storage",
    "parse_location",
    "redact",
    "safe_key",
    "sha256_of",
    "upload_run",
]
