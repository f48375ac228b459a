"""The shipped DejaVu fonts: Cyrillic everywhere, without relying on system fonts.

The layout engine is pinned to Pillow's ``BASIC`` (FreeType only, bundled in the Pillow
wheel). Left to its default, Pillow picks Raqm whenever it can load the *system's* libfribidi
at run time, and Raqm places glyphs differently (HarfBuzz shaping and positioning): this
was the cause of issue #21, where the host (libfribidi installed) and a Debian minbase
container (none) drew the same text a few pixels apart and all images differed. The documents
hold no right-to-left text and no ligatures that need shaping, so nothing is lost.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from PIL import ImageFont

FONT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
LAYOUT_ENGINE = ImageFont.Layout.BASIC


@lru_cache(maxsize=32)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = files("vlmhb_synthetic_docs") / "fonts" / FONT_FILES[bold]
    with path.open("rb") as handle:  # works from a wheel, a zip or a source tree
        return ImageFont.truetype(handle, size, layout_engine=LAYOUT_ENGINE)
