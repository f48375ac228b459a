"""Mild, seeded scan artefacts (rotation, blur, sensor noise, JPEG-like blocks), exact everywhere.

Level 0 is the clean render; each level above adds a little more of every artefact. The
boxes are carried through the rotation (the box of the rotated corners), so ground truth
stays exact at every level.

Why everything here is integer arithmetic: the dataset's fingerprint is a cache key and a
pinned ``checksum:`` in the registry, so the same seed must give the same bytes on every
machine (issue #21). The previous pipeline used Pillow's bicubic rotation and Gaussian blur
(floating point in C, whose results may change with the compiler's contraction of
multiply-adds and with the platform), numpy's float Gaussian sampler (whose stream numpy
does not promise to keep between versions) and a JPEG round trip through the libjpeg(-turbo)
that Pillow happens to be linked with. Here:

- the angle is drawn as whole millidegrees from ``random.Random`` (stable across Python
  versions), and its sine and cosine are computed with exact rational arithmetic
  (:class:`fractions.Fraction`, a Taylor series), then rounded to 16-bit fixed point, so no
  libm is involved; rotation is bilinear with 8-bit weights in int64 numpy arrays, and the
  boxes are moved with the very same integers;
- blur is a separable 3-tap integer kernel (a fixed table per level);
- sensor noise is an approximately Gaussian integer (the sum of four uniform bytes, scaled
  by an integer) drawn from SHAKE-256 keyed by the seeded ``random.Random``: the bytes are
  defined by FIPS 202, not by numpy's or the CPU's random paths;
- compression artefacts come from a JPEG-like codec written here: integer YCbCr (libjpeg's
  fixed-point constants), 2x2 chroma averaging, and an 8x8 integer DCT quantised with the
  standard JPEG tables scaled by quality (IJG's integer formula).

Integer addition and multiplication in numpy are exact and independent of SIMD width,
thread count and BLAS (integer matmul never goes through BLAS), so every pixel value is a
function of the seed alone. The PNG file written from these pixels is then a function of the
pixels and of the PNG codec of the pinned Pillow (its bundled zlib).
"""

from __future__ import annotations

import hashlib
import random
from fractions import Fraction

import numpy as np
from PIL import Image

MAX_LEVEL = 3

_ONE = 1 << 16  # fixed-point scale of the rotation's sine and cosine
# pi to 40 digits: enough for the 16-bit sine/cosine of angles of a few degrees.
_PI = Fraction("3.1415926535897932384626433832795028841971")
MAX_ANGLE_MILLIDEGREES = 600  # per level
# Separable 3-tap blur kernels (sum 256) per level: roughly Gaussian, sigma 0.35 to 0.75 px.
BLUR_TAPS = {1: (8, 240, 8), 2: (27, 202, 27), 3: (58, 140, 58)}
# The sum of four uniform bytes has a standard deviation of 147.8; times 69/4096 that is about
# 2.5 grey levels, so the noise is about 2.5 * level grey levels (sigma) per channel.
NOISE_SCALE_PER_LEVEL = 69
# The 8x8 DCT-II basis (orthonormal), times 4096 and rounded: written out, not computed with
# math.cos, so that it cannot depend on the platform's libm.
_DCT = np.array(
    [
        [1448, 1448, 1448, 1448, 1448, 1448, 1448, 1448],
        [2009, 1703, 1138, 400, -400, -1138, -1703, -2009],
        [1892, 784, -784, -1892, -1892, -784, 784, 1892],
        [1703, -400, -2009, -1138, 1138, 2009, 400, -1703],
        [1448, -1448, -1448, 1448, 1448, -1448, -1448, 1448],
        [1138, -2009, 400, 1703, -1703, -400, 2009, -1138],
        [784, -1892, 1892, -784, -784, 1892, -1892, 784],
        [400, -1138, 1703, -2009, 2009, -1703, 1138, -400],
    ],
    dtype=np.int64,
)
# The quantisation tables of the JPEG standard (ITU T.81, Annex K), luminance and chrominance.
_LUMA_Q = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.int64,
)
_CHROMA_Q = np.full((8, 8), 99, dtype=np.int64)
_CHROMA_Q[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]


# --- rotation ---------------------------------------------------------------------------------
def _sin_cos(millidegrees: int) -> tuple[int, int]:
    """Sine and cosine times 2**16, rounded, from exact rationals (no libm)."""
    x = Fraction(millidegrees, 180_000) * _PI
    sin, cos, term = Fraction(0), Fraction(0), Fraction(1)
    for n in range(14):  # |x| < 0.2 here: the terms fall far below 2**-16 long before n=14
        if n:
            term = term * x / n
        if n % 4 == 0:
            cos += term
        elif n % 4 == 1:
            sin += term
        elif n % 4 == 2:
            cos -= term
        else:
            sin -= term
    return round(sin * _ONE), round(cos * _ONE)


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _rotate_box(box: list[int], sin: int, cos: int, size: tuple[int, int]) -> list[int]:
    """The box of the rotated corners, with the same fixed-point numbers as the pixels.

    Counter-clockwise about the centre (as Pillow's ``rotate``), y downwards: an offset
    ``(dx, dy)`` from the centre goes to ``(cos dx + sin dy, -sin dx + cos dy)``. Doubled
    coordinates keep the centre ``(w/2, h/2)`` an integer.
    """
    w, h = size
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[2], box[1]), (box[0], box[3]), (box[2], box[3])):
        a, b = 2 * x - w, 2 * y - h
        xs.append(cos * a + sin * b + w * _ONE)  # 2**17 times the new x
        ys.append(-sin * a + cos * b + h * _ONE)
    scale = 2 * _ONE
    return [
        max(0, min(xs) // scale),
        max(0, min(ys) // scale),
        min(w, _ceil_div(max(xs), scale)),
        min(h, _ceil_div(max(ys), scale)),
    ]


def _rotate(pixels: np.ndarray, sin: int, cos: int, fill: tuple[int, ...]) -> np.ndarray:
    """Bilinear rotation (8-bit weights) of an HxWxC uint8 array, all in int64 arithmetic.

    Each output pixel centre is mapped back by the transposed matrix; samples that fall
    outside the page take the ``fill`` colour (the source is padded by one pixel of it, and
    indices are clipped into that border).
    """
    h, w, channels = pixels.shape
    padded = np.empty((h + 2, w + 2, channels), dtype=np.int32)
    padded[:] = np.asarray(fill, dtype=np.int32)
    padded[1:-1, 1:-1] = pixels
    flat = padded.reshape(-1, channels)
    a = (2 * np.arange(w, dtype=np.int64) + 1 - w)[None, :]  # doubled offsets of centres
    b = (2 * np.arange(h, dtype=np.int64) + 1 - h)[:, None]
    # Source centre in units of 2**-17 pixel (index space, centre of pixel i at i).
    sx = cos * a - sin * b + (w - 1) * _ONE
    sy = sin * a + cos * b + (h - 1) * _ONE
    ix, iy = sx >> 17, sy >> 17  # arithmetic shift: floor, also below zero
    fx = ((sx >> 9) & 255).astype(np.int32).reshape(-1, 1)
    fy = ((sy >> 9) & 255).astype(np.int32).reshape(-1, 1)
    x0 = np.clip(ix + 1, 0, w + 1).reshape(-1)
    x1 = np.clip(ix + 2, 0, w + 1).reshape(-1)
    row0 = (np.clip(iy + 1, 0, h + 1) * (w + 2)).reshape(-1)
    row1 = (np.clip(iy + 2, 0, h + 1) * (w + 2)).reshape(-1)
    # Each product is at most 255 * 256 * 256 and the weights sum to 65536: int32 is enough.
    top = flat[row0 + x0] * (256 - fx) + flat[row0 + x1] * fx
    bottom = flat[row1 + x0] * (256 - fx) + flat[row1 + x1] * fx
    total = (top * (256 - fy) + bottom * fy).reshape(h, w, channels)
    return ((total + (1 << 15)) >> 16).astype(np.uint8)


# --- blur and sensor noise --------------------------------------------------------------------
def _blur(pixels: np.ndarray, taps: tuple[int, int, int]) -> np.ndarray:
    """Separable 3-tap integer blur with replicated edges (rounded to nearest)."""
    side, centre, _ = taps
    p = pixels.astype(np.int64)
    q = np.pad(p, ((0, 0), (1, 1), (0, 0)), mode="edge")
    p = (side * q[:, :-2] + centre * q[:, 1:-1] + side * q[:, 2:] + 128) >> 8
    q = np.pad(p, ((1, 1), (0, 0), (0, 0)), mode="edge")
    p = (side * q[:-2] + centre * q[1:-1] + side * q[2:] + 128) >> 8
    return p.astype(np.uint8)


def _sensor_noise(pixels: np.ndarray, scale: int, key: bytes) -> np.ndarray:
    """Add ``(sum of 4 bytes - 510) * scale / 4096`` per channel, bytes from SHAKE-256(key)."""
    stream = hashlib.shake_256(b"vlmhb-synthetic-docs/noise\0" + key).digest(4 * pixels.size)
    draws = np.frombuffer(stream, dtype=np.uint8).reshape(*pixels.shape, 4).astype(np.int64)
    noise = ((draws.sum(axis=-1) - 510) * scale + 2048) >> 12
    return np.clip(pixels.astype(np.int64) + noise, 0, 255).astype(np.uint8)


# --- JPEG-like compression --------------------------------------------------------------------
def _quant_table(base: np.ndarray, quality: int) -> np.ndarray:
    """IJG's quality scaling of a base table, in integers."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


def _dct_quantise(plane: np.ndarray, table: np.ndarray) -> np.ndarray:
    """8x8 integer DCT, quantise, dequantise, inverse DCT, of an HxW int64 plane (0-255)."""
    h, w = plane.shape
    ph, pw = -h % 8, -w % 8
    p = np.pad(plane, ((0, ph), (0, pw)), mode="edge") - 128
    blocks = p.reshape((h + ph) // 8, 8, (w + pw) // 8, 8).transpose(0, 2, 1, 3)
    coeffs = _DCT @ blocks @ _DCT.T  # 2**24 times the DCT coefficients, exactly
    divisor = table << 24
    levels = (2 * coeffs + divisor) // (2 * divisor)  # round half up, exact
    restored = _DCT.T @ (levels * table) @ _DCT  # 2**24 times the pixels
    restored = (restored + (1 << 23)) >> 24
    out = restored.transpose(0, 2, 1, 3).reshape(h + ph, w + pw)[:h, :w] + 128
    return np.clip(out, 0, 255)


def _jpeg_like(pixels: np.ndarray, quality: int) -> np.ndarray:
    """A JPEG round trip (4:2:0, baseline tables) without a codec library, bit-exact anywhere."""
    rgb = pixels.astype(np.int64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    # libjpeg's fixed-point YCbCr (jccolor.c constants, 16 fractional bits)
    y = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16
    cb = ((-11059 * r - 21709 * g + 32768 * b + 32768) >> 16) + 128
    cr = ((32768 * r - 27439 * g - 5329 * b + 32768) >> 16) + 128
    h, w = y.shape
    y = _dct_quantise(y, _quant_table(_LUMA_Q, quality))
    chroma = []
    for plane in (cb, cr):
        even = np.pad(plane, ((0, h % 2), (0, w % 2)), mode="edge")
        half = (even[0::2, 0::2] + even[1::2, 0::2] + even[0::2, 1::2] + even[1::2, 1::2] + 2) >> 2
        half = _dct_quantise(half, _quant_table(_CHROMA_Q, quality))
        chroma.append(half.repeat(2, axis=0).repeat(2, axis=1)[:h, :w] - 128)
    cb, cr = chroma
    # libjpeg's fixed-point inverse (jdcolor.c constants)
    r = y + ((91881 * cr + 32768) >> 16)
    g = y + ((-22554 * cb - 46802 * cr + 32768) >> 16)
    b = y + ((116130 * cb + 32768) >> 16)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def apply_noise(
    image: Image.Image,
    boxes: dict[str, list[int]],
    level: int,
    rng: random.Random,
) -> tuple[Image.Image, dict[str, list[int]], dict[str, object]]:
    """The noisy image, the moved boxes, and the parameters used (for the ground truth).

    Every random draw comes from ``rng`` (the angle, then a 128-bit key for the noise
    stream), so the result is a function of ``rng``'s state, the image and ``level``.
    """
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"noise: expected a level from 0 to {MAX_LEVEL}, got {level}")
    if level == 0:
        return image, boxes, {}
    millidegrees = rng.randint(-MAX_ANGLE_MILLIDEGREES, MAX_ANGLE_MILLIDEGREES) * level
    noise_key = rng.getrandbits(128).to_bytes(16, "big")
    taps = BLUR_TAPS[level]
    scale = NOISE_SCALE_PER_LEVEL * level
    quality = 92 - 12 * level
    sin, cos = _sin_cos(millidegrees)
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    background = tuple(int(v) for v in pixels[30, 30])
    pixels = _rotate(pixels, sin, cos, background)
    boxes = {name: _rotate_box(box, sin, cos, image.size) for name, box in boxes.items()}
    pixels = _blur(pixels, taps)
    pixels = _sensor_noise(pixels, scale, noise_key)
    pixels = _jpeg_like(pixels, quality)
    params: dict[str, object] = {
        "angle": millidegrees / 1000,
        "blur_taps": list(taps),
        "sigma": 2.5 * level,
        "noise_scale": scale,
        "jpeg_quality": quality,
    }
    return Image.fromarray(pixels, "RGB"), boxes, params
