"""The picture on the clipboard or in a drop: a copied image, or a copied image file (as file
managers copy them), as a PIL.Image in RGB, through the same guards as opening a file.

Uses Qt's clipboard, which works on every platform including Wayland; call it on the GUI
thread with a QGuiApplication running.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, Qt
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


# Encoded pictures that another program may put on the clipboard or in a drag, read by
# Lookaloud's own decoder so they get its limits, EXIF rotation and 16-bit scaling.
_ENCODED_FORMATS = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")


def picture_from_mime(mime: QMimeData | None, who: str) -> tuple[Image.Image, str | None] | None:
    """The picture in pasted or dropped data, and the name of its file when it came as one; None
    when there is no picture. Goes through the same guards as opening a file: a picture file is
    read by load_picture(), encoded bytes by open_picture(), and raw image data is refused over
    MAX_PIXELS and shrunk to KEPT_PIXELS before it is copied. Raises PictureError (`who` says
    what the picture is when it has no file name: "The pasted picture"). GUI thread only."""
    from desktop_app.vision.images import (
        KEPT_PIXELS,
        PictureError,
        bounded_copy,
        check_pixels,
        load_picture,
        open_picture,
    )

    if mime is None:
        return None
    first_error: PictureError | None = None
    for url in mime.urls():  # the first file that is a picture: a copy may hold other files too
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            try:
                return bounded_copy(load_picture(path)), path.name
            except PictureError as exc:
                first_error = first_error or exc
    if first_error is not None:
        raise first_error
    for fmt in _ENCODED_FORMATS:
        if mime.hasFormat(fmt):
            data = bytes(mime.data(fmt).data())
            if data:
                return bounded_copy(open_picture(data, who=who)), None
    if mime.hasImage():
        image = QImage(mime.imageData())
        if image.isNull():
            return None
        check_pixels(image.width(), image.height(), who)
        if image.width() * image.height() > KEPT_PIXELS:
            # Shrink in Qt first: the RGB copies below are then of the kept size, not 3 bytes
            # for each of up to 89 M pixels, twice.
            scale = (KEPT_PIXELS / (image.width() * image.height())) ** 0.5
            image = image.scaled(max(1, int(image.width() * scale)), max(1, int(image.height() * scale)),
                                 Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        return qimage_to_pil(image), None
    return None


def capture_clipboard_image() -> Image.Image | None:
    """The clipboard's picture, or None when the clipboard holds no picture.

    GUI thread only. Raises CaptureError when there is no Qt application to ask, or when the
    picture cannot be used (the sentence says why, as for a file).
    """
    from desktop_app.vision.images import PictureError

    if QGuiApplication.instance() is None:
        raise CaptureError("Lookaloud could not read the clipboard.")
    try:
        found = picture_from_mime(QGuiApplication.clipboard().mimeData(), "The picture on the clipboard")
    except PictureError as exc:
        raise CaptureError(str(exc)) from exc
    return None if found is None else found[0]
