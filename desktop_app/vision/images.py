"""Turning files and raw image data into pictures the engine can read, within fixed bounds.

Every picture leaves here as an RGB PIL image: EXIF orientation applied, the first frame of an
animation, alpha composited on white, palette/CMYK/16-bit modes converted. Anything that is not
a readable picture raises PictureError with a sentence the user can hear.

Files are looked at before they are read: only regular files up to MAX_FILE_BYTES are opened
(a FIFO would block forever, /dev/zero never ends, a sparse 3 GB file would be read whole), and
pictures over MAX_PIXELS are refused from their header, before decoding. bounded_copy() is the
size every kept picture is reduced to (the history, the pasted or dropped picture).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from struct import error as struct_error
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from desktop_app.userfiles import megabytes, open_regular_file

# Pictures above this many pixels are refused before decoding. Pillow warns about bombs at
# 89.5 M pixels (and that warning is an error here), so the limit for files, pasted and dropped
# pictures is the same: 89 M, which lets an 8K screenshot (33 M) and an 8000 x 8000 photo in.
MAX_PIXELS = 89_000_000
# Files above this size are refused before any byte is read: a lossless 8000 x 8000 picture is
# far smaller, an uncompressed 8K TIFF is 100 MB.
MAX_FILE_BYTES = 256 * 1024 * 1024
# The largest picture kept after it is taken in: what the text reader works on at most (it
# enlarges small text up to desktop_app.ocr.prepare.MAX_PREPARED_PIXELS, 9 M pixels; RapidOCR
# shrinks to 1920 px on the long side) and far above what the vision models see (224-384 px).
# A 4K screenshot (8.3 M) is kept as it is.
KEPT_PIXELS = 9_000_000


class PictureError(ValueError):
    """A picture could not be used; str() is a sentence for the user."""


def _describe_source(source: str | Path | None) -> str:
    return f"The file {Path(source).name}" if source else "The picture"


def open_picture(data: bytes | str | Path, source: str | Path | None = None, who: str | None = None) -> Image.Image:
    """Decode a file path or bytes into an RGB picture, or raise PictureError. `who` names a
    picture that has no file in the sentence ("The pasted picture")."""
    if isinstance(data, (str, Path)):
        source = source or data
        with open_regular_file(Path(data), MAX_FILE_BYTES, _describe_source(source), "a picture", PictureError) as file:
            return _decode(file, _describe_source(source))
    who = who or _describe_source(source)
    if len(data) > MAX_FILE_BYTES:
        raise PictureError(f"{who} is too large to open: {megabytes(len(data))}.")
    return _decode(io.BytesIO(data), who)


def _decode(file: IO[bytes], who: str) -> Image.Image:
    if file.seek(0, io.SEEK_END) == 0:
        raise PictureError(f"{who} is empty.")
    file.seek(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(file)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PictureError(
                    f"{who} is too large to describe: {width} by {height} pixels. "
                    "Crop it or take a smaller region."
                )
            image.seek(0)
            image.load()
            return to_rgb(image)
        except PictureError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PictureError(f"{who} is too large to describe safely.") from exc
        except UnidentifiedImageError as exc:
            raise PictureError(f"{who} is not a picture Lookaloud can read.") from exc
        except MemoryError as exc:
            raise PictureError(f"{who} is too large to describe.") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct_error) as exc:
            raise PictureError(f"{who} is damaged or incomplete and cannot be read.") from exc


def check_pixels(width: int, height: int, who: str = "The picture") -> None:
    """Raise PictureError when a picture of width x height is over MAX_PIXELS or empty."""
    if width <= 0 or height <= 0:
        raise PictureError(f"{who} is empty.")
    if width * height > MAX_PIXELS:
        raise PictureError(f"{who} is too large to describe: {width} by {height} pixels. "
                           "Crop it or take a smaller region.")


def bounded_copy(image: Image.Image, max_pixels: int = KEPT_PIXELS) -> Image.Image:
    """`image` itself when it has at most `max_pixels`, else a copy shrunk to fit (same
    proportions, same `info`, such as the window title of a window capture)."""
    width, height = image.size
    if width * height <= max_pixels:
        return image
    scale = (max_pixels / (width * height)) ** 0.5
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    # reducing_gap: a fast box reduction first, then a bicubic pass; 3x faster than a full
    # Lanczos on an 8000 x 8000 picture with no visible difference at the kept size.
    small = image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    small.info = dict(image.info)
    return small


def to_rgb(image: Image.Image) -> Image.Image:
    """An RGB copy of any Pillow image: EXIF rotation applied, transparency on white."""
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001, S110 - a broken EXIF block must not lose the picture
        pass
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA") if "transparency" in image.info else image.convert("RGB")
        mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greyscale: scale to 8 bits by the type's range, not by clipping.
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        if mode == "F":
            top = max(float(array.max()), 1.0)
        grey = np.clip(array / top * 255.0 + 0.5, 0, 255).astype("uint8")
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode == "CMYK":
        return image.convert("RGB")
    return image.convert("RGB")


def load_picture(path: str | Path) -> Image.Image:
    """Read a picture file into RGB; raises PictureError with a spoken-friendly reason."""
    return open_picture(Path(path))
