"""Proof that writing metadata into a picture left its pixels alone.

`fingerprint(path)` is a digest of what a picture shows, taken twice: before exiftool writes
and on the written copy; writing.py moves the copy into place only when both agree. It
covers every frame decoded by Pillow in its own mode (no conversion that could hide a change),
and, for JPEG and PNG, the stored image data itself, so that a re-encoded JPEG (which can
decode to the same pixels only by chance, and never byte for byte) is caught too: for JPEG
every segment except the metadata ones plus the entropy-coded data, for PNG every chunk except the
text, time and XMP ones. Blocks while it decodes (up to vision/images.MAX_PIXELS per frame).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from pathlib import Path

from PIL import Image, ImageSequence

from desktop_app.userfiles import open_regular_file
from desktop_app.vision.images import MAX_FILE_BYTES, MAX_PIXELS, PictureError

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG chunks that carry metadata, not the picture (exiftool writes XMP into iTXt).
_PNG_METADATA = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def _jpeg_image_data(data: bytes) -> bytes | None:
    """Every JPEG segment that shapes the picture (tables, frame, scans, the ICC profile and
    other APPn), or None if the markers cannot be followed. Left out: APP1 (EXIF and XMP, which
    exiftool writes), APP13 (Photoshop's IPTC) and COM."""
    if not data.startswith(b"\xff\xd8"):
        return None
    kept = bytearray()
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        segment = data[i:i + 2 + length]
        if marker == 0xDA:  # start of scan: the rest is coded data (and further scans)
            kept += data[i:]
            return bytes(kept)
        if marker not in (0xE1, 0xED, 0xFE):
            kept += segment
        i += 2 + length
    return None


def _png_image_data(data: bytes) -> bytes | None:
    if not data.startswith(_PNG_SIGNATURE):
        return None
    kept = bytearray()
    i = len(_PNG_SIGNATURE)
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind not in _PNG_METADATA:
            kept += data[i:i + 12 + length]
        if kind == b"IEND":
            return bytes(kept)
        i += 12 + length
    return None


def fingerprint(path: Path) -> str:
    """A digest of the pixels of every frame of `path` and, for JPEG and PNG, of its stored
    image data. Raises PictureError when the file cannot be decoded."""
    who = f"The file {path.name}"
    digest = hashlib.sha256()
    with open_regular_file(path, MAX_FILE_BYTES, who, "a picture", PictureError) as file:
        data = file.read()
    stored = _jpeg_image_data(data) if data[:2] == b"\xff\xd8" else _png_image_data(data)
    digest.update(b"stored:" + (hashlib.sha256(stored).digest() if stored is not None else b"-"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                for frame in ImageSequence.Iterator(image):
                    width, height = frame.size
                    if width * height > MAX_PIXELS:
                        raise PictureError(f"{who} is too large to check.")
                    frame.load()
                    digest.update(f"{frame.mode} {width}x{height}".encode())
                    digest.update(frame.tobytes())
        except PictureError:
            raise
        except Exception as exc:  # any decoding failure means "cannot prove it"
            raise PictureError(f"{who} could not be decoded to check its pixels.") from exc
    return digest.hexdigest()
