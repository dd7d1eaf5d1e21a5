"""Turning files and raw image data into pictures the engine can read.

Every picture leaves here as an RGB PIL image: EXIF orientation applied, the first frame of an
animation, alpha composited on white, palette/CMYK/16-bit modes converted. Anything that is not
a readable picture raises PictureError with a sentence the user can hear.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

# Pictures above this many pixels are refused before decoding (a 16k x 16k screenshot is 268 M;
# Pillow's own bomb limit is 179 M). Screenshots of 8K screens (33 M) pass easily.
MAX_PIXELS = 120_000_000


class PictureError(ValueError):
    """A picture could not be used; str() is a sentence for the user."""


def _describe_source(source: str | Path | None) -> str:
    return f"The file {Path(source).name}" if source else "The picture"


def open_picture(data: bytes | str | Path, source: str | Path | None = None) -> Image.Image:
    """Decode a file path or bytes into an RGB picture, or raise PictureError."""
    if isinstance(data, (str, Path)):
        source = source or data
        path = Path(data)
        if not path.exists():
            raise PictureError(f"{_describe_source(source)} does not exist.")
        if path.is_dir():
            raise PictureError(f"{path.name} is a folder, not a picture.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PictureError(f"{_describe_source(source)} could not be read: {exc.strerror or exc}.") from exc
    who = _describe_source(source)
    if not data:
        raise PictureError(f"{who} is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PictureError(
                    f"{who} is too large to describe: {width} by {height} pixels. "
                    "Crop it or take a smaller region."
                )
            image.seek(0)
            image.load()
        except PictureError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PictureError(f"{who} is too large to describe safely.") from exc
        except UnidentifiedImageError as exc:
            raise PictureError(f"{who} is not a picture Lookaloud can read.") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise PictureError(f"{who} is damaged or incomplete and cannot be read.") from exc
    return to_rgb(image)


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
