"""Describe clipboard picture: a picture copied in another program, or a copied image file,
comes back as an RGB picture with the same pixels; no picture gives None."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QGuiApplication

from desktop_app.capture.clipboard import capture_clipboard_image

_OWNER = textwrap.dedent(
    """
    import sys
    from PySide6.QtGui import QColor, QGuiApplication, QImage
    app = QGuiApplication([])
    image = QImage(64, 32, QImage.Format.Format_RGB32)
    image.fill(QColor(10, 120, 200))
    for x in range(32, 64):
        for y in range(32):
            image.setPixelColor(x, y, QColor(250, 200, 0))
    QGuiApplication.clipboard().setImage(image)
    print("copied", flush=True)
    from PySide6.QtCore import QSocketNotifier
    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(app.quit)  # stdin closes when the test is done
    app.exec()
    """
)


def test_picture_copied_in_another_program_is_read(qtbot) -> None:  # type: ignore[no-untyped-def]
    owner = subprocess.Popen([sys.executable, "-c", _OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "copied"
        picture = None

        def arrived() -> bool:
            nonlocal picture
            picture = capture_clipboard_image()
            return picture is not None and picture.size == (64, 32)  # not an older picture

        qtbot.waitUntil(arrived)
        assert picture is not None and picture.mode == "RGB" and picture.size == (64, 32)
        assert picture.getpixel((5, 5)) == (10, 120, 200)
        assert picture.getpixel((60, 30)) == (250, 200, 0)
    finally:
        assert owner.stdin is not None
        owner.stdin.close()
        owner.wait(timeout=10)


def test_copied_image_file_is_read_and_transparency_shows_white(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "badge.png"
    picture = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    picture.paste((200, 0, 0, 255), (0, 0, 10, 10))
    picture.save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "notes.txt")), QUrl.fromLocalFile(str(path))])
    (tmp_path / "notes.txt").write_text("not a picture")
    QGuiApplication.clipboard().setMimeData(mime)
    image = capture_clipboard_image()
    assert image is not None and image.mode == "RGB" and image.size == (20, 10)
    assert image.getpixel((2, 2)) == (200, 0, 0)
    assert image.getpixel((15, 5)) == (255, 255, 255)


def test_text_on_the_clipboard_is_no_picture(qtbot) -> None:  # type: ignore[no-untyped-def]
    QGuiApplication.clipboard().setText("Just some words.")
    assert capture_clipboard_image() is None
