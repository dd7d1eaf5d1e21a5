"""The picture on the clipboard: a copied image, or a copied image file (as file managers
copy them), as a PIL.Image in RGB.

Uses Qt's clipboard, which works on every platform including Wayland; call it on the GUI
thread with a QGuiApplication running.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter

from desktop_app.capture.types import CaptureError


def qimage_to_pil(image: QImage) -> Image.Image:
    """A QImage as an RGB PIL.Image; transparent parts become white, as a viewer shows them."""
    if image.hasAlphaChannel():
        flat = QImage(image.size(), QImage.Format.Format_RGB888)
        flat.fill(QColor(Qt.GlobalColor.white))
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    else:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    # Rows are padded to 4 bytes; the raw decoder's stride argument skips the padding.
    return Image.frombuffer("RGB", (width, height), bytes(image.constBits()), "raw", "RGB", image.bytesPerLine(), 1)


def _image_from_file(path: Path) -> Image.Image | None:
    try:
        with Image.open(path) as picture:
            if "A" in picture.getbands() or "transparency" in picture.info:
                rgba = picture.convert("RGBA")
                background = Image.new("RGB", rgba.size, "white")
                background.paste(rgba, mask=rgba.getchannel("A"))
                return background
            return picture.convert("RGB")
    except (OSError, UnidentifiedImageError):
        return None


def capture_clipboard_image() -> Image.Image | None:
    """The clipboard's picture, or None when the clipboard holds no picture.

    GUI thread only. Raises CaptureError when there is no Qt application to ask.
    """
    if QGuiApplication.instance() is None:
        raise CaptureError("Lookaloud could not read the clipboard.")
    mime = QGuiApplication.clipboard().mimeData()
    if mime is None:
        return None
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return qimage_to_pil(image)
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                picture = _image_from_file(Path(url.toLocalFile()))
                if picture is not None:
                    return picture
    return None
