"""Where data lives: ``s3://bucket/prefix``, ``file:///path`` or a plain path.

Also the rules every transfer shares: which keys are safe to write below a folder, which names
are reserved for the data layer's own state, and how credentials in URLs are kept out of every
message (an endpoint such as ``http://ID:SECRET@host`` must never be echoed back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit, urlunsplit

#: Any path segment starting with this is the data layer's own state (manifest, journal, lock,
#: temporary files): never listed as data, never fetched from a source, never deleted as extra.
RESERVED_PREFIX = ".vlmhb-"
#: Temporary files are written beside their target under this prefix and renamed into place;
#: leftovers from a killed process are removed by the next sync of that folder.
TEMP_PREFIX = ".vlmhb-part-"
# Temporary names of vlmhb-data-layer 0.2 (``.<name>.part-<pid>``, plus the random suffix
# s3transfer adds while downloading): recognised so that old leftovers are cleaned and skipped.
_LEGACY_TEMP = re.compile(r"^\..+\.part-\d+(\.[0-9A-Za-z]+)?$")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s'\"]+@")


def redact(text: str) -> str:
    """``text`` with the user/password part of every URL in it replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1***@", text)


class DataLayerError(Exception):
    """Bad input or a failed transfer; the message names the URL, key or file at fault.

    The message is redacted on creation, so no code path can leak URL credentials through it.
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(redact(str(message)))


@dataclass(frozen=True)
class Location:
    scheme: str  # "s3" or "local"
    bucket: str = ""
    prefix: str = ""
    path: Path | None = None

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.scheme == "s3" else str(self.path)


def parse_location(url: str) -> Location:
    if url.startswith("s3://"):
        parsed = urlsplit(url)
        if not parsed.netloc:
            raise DataLayerError(f"{url!r}: expected s3://bucket/prefix, the bucket is missing")
        if "@" in parsed.netloc or ":" in parsed.netloc:
            raise DataLayerError(
                f"{url!r}: credentials or ports do not belong in an s3:// URL; set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and pass the server as the endpoint URL"
            )
        return Location("s3", bucket=parsed.netloc, prefix=parsed.path.strip("/"))
    if "://" in url and not url.startswith("file://"):
        raise DataLayerError(f"{url!r}: expected an s3:// URL, a file:// URL or a local path")
    return Location("local", path=Path(url.removeprefix("file://")).expanduser())


def split_endpoint(endpoint_url: str | None) -> tuple[str | None, str | None, str | None]:
    """``(url without credentials, access key id, secret key)`` of an S3 endpoint URL.

    ``http://ID:SECRET@host:9000`` is how MinIO consoles and many docs write a server with its
    key pair; boto3 cannot use the pair from the URL (it would send it as part of the host), so
    it is taken out here, used as the key pair, and never shown.
    """
    if endpoint_url is None:
        return None, None, None
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DataLayerError(
            f"endpoint URL {endpoint_url!r}: expected http://host[:port] or https://host[:port]"
        )
    if "@" not in parts.netloc:
        return endpoint_url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    key_id = unquote(parts.username) if parts.username else None
    secret = unquote(parts.password) if parts.password else None
    return clean, key_id, secret


def safe_key(key: str) -> str:
    """A key as a relative POSIX path inside the destination; refuse anything that escapes."""
    if not key or "\\" in key or key.startswith("/") or "\x00" in key:
        raise DataLayerError(f"refusing key {key!r}: expected a relative path without backslashes")
    segments = key.split("/")
    if any(part in ("..", ".") for part in segments) or PurePosixPath(key).is_absolute():
        raise DataLayerError(f"refusing key {key!r}: it would escape the destination folder")
    return "/".join(part for part in segments if part)


def is_reserved(relative: str) -> bool:
    """Whether a relative path names the data layer's own state (or an old temporary file)."""
    return any(
        part.startswith(RESERVED_PREFIX) or _LEGACY_TEMP.match(part) for part in relative.split("/")
    )


def is_temporary(name: str) -> bool:
    """Whether a file name is a temporary file of ours (current or 0.2 naming)."""
    return name.startswith(TEMP_PREFIX) or bool(_LEGACY_TEMP.match(name))
