"""Turning an ``image_url`` into bytes a backend can use, or an error with a status code.

Backends never see URLs: the wrapper decodes ``data:`` URLs and reads ``file://`` paths, but
only under the configured data root, so a client cannot make the server read arbitrary files.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from urllib.parse import unquote, urlparse

from PIL import Image, UnidentifiedImageError

from vlmhb_api_wrapper.backend import ImagePart
from vlmhb_api_wrapper.errors import ApiError
from vlmhb_api_wrapper.settings import DEFAULT_MAX_IMAGE_PIXELS


def _check_size(size: int, limit: int, where: str) -> None:
    if size > limit:
        raise ApiError(413, f"{where}: image is {size} bytes, over the limit of {limit} bytes")


def _verify(data: bytes, where: str, max_pixels: int) -> str:
    """The image's MIME type, after checking its size from the header, before any decoding.

    ``Image.open`` reads the header only; the pixel count (width x height x frames) is
    checked against ``max_pixels`` before ``verify()`` or any backend decodes a pixel, so a
    6 KB WebP that would decode to 13000x13000 is refused in microseconds.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            pixels = width * height
            if pixels > max_pixels:
                raise ApiError(413, _too_many(where, f"{width}x{height}", pixels, max_pixels))
            frames = int(getattr(image, "n_frames", 1) or 1)
            if pixels * frames > max_pixels:
                raise ApiError(
                    413,
                    _too_many(
                        where, f"{frames} frames of {width}x{height}", pixels * frames, max_pixels
                    ),
                )
            image.verify()
            fmt = (image.format or "png").lower()
    except Image.DecompressionBombError as exc:  # Pillow's own guard, past 2x its limit
        raise ApiError(413, f"{where}: the image is too large to decode safely ({exc})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ApiError(400, f"{where}: the image does not decode ({exc})") from exc
    return "image/jpeg" if fmt == "jpeg" else f"image/{fmt}"


def _too_many(where: str, shape: str, pixels: int, limit: int) -> str:
    return (
        f"{where}: image is {shape} = {pixels} pixels, over the limit of {limit} pixels "
        "(server setting max_image_pixels, --max-image-pixels)"
    )


def _from_data_url(url: str, limit: int, where: str) -> bytes:
    header, sep, payload = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise ApiError(400, f"{where}: expected a data URL 'data:<mime>;base64,<data>'")
    # base64 is 4/3 the size of the data: refuse before decoding a huge payload
    _check_size(len(payload) * 3 // 4, limit, where)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, f"{where}: the data URL is not valid base64 ({exc})") from exc


def _from_file_url(url: str, data_root: Path | None, limit: int, where: str) -> bytes:
    if data_root is None:
        raise ApiError(
            403, f"{where}: file:// URLs are disabled; start the server with --data-root DIR"
        )
    path = Path(unquote(urlparse(url).path)).resolve()
    root = data_root.resolve()
    if not path.is_relative_to(root):
        raise ApiError(403, f"{where}: {path} is outside the data root {root}")
    if not path.is_file():
        raise ApiError(400, f"{where}: no such file {path}")
    _check_size(path.stat().st_size, limit, where)
    return path.read_bytes()


def load_image(
    url: str,
    *,
    data_root: Path | None,
    max_bytes: int,
    where: str,
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
) -> ImagePart:
    """``where`` names the field (e.g. ``messages[0].content[1].image_url``) for the error."""
    if url.startswith("data:"):
        data = _from_data_url(url, max_bytes, where)
    elif url.startswith("file://"):
        data = _from_file_url(url, data_root, max_bytes, where)
    else:
        scheme = url.split(":", 1)[0] if ":" in url else url[:20]
        raise ApiError(
            400, f"{where}: unsupported URL scheme {scheme!r}; use a data: URL or file://"
        )
    _check_size(len(data), max_bytes, where)
    return ImagePart(data=data, mime_type=_verify(data, where, max_pixels))
