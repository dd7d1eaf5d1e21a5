"""Render Lookaloud's icon (resources/icons/lookaloud.svg) into the formats installers want:
lookaloud.ico (Windows: the program, the installer, the Start-menu entry), lookaloud.icns
(macOS: the .app) and lookaloud-256.png, at the sizes each platform picks from.

    python packaging/make_icons.py OUTPUT_FOLDER

Qt draws the SVG (QtSvg ships with PySide6-Essentials) and Pillow writes the files, so this
runs on any of the three platforms; the spec calls it when it builds for Windows or macOS.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

SVG = Path(__file__).resolve().parents[1] / "resources" / "icons" / "lookaloud.svg"
ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]
ICNS_SIZES = [16, 32, 64, 128, 256, 512, 1024]


def _render(size: int):  # -> PIL.Image.Image
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    # QImage and QPainter need a GUI application; the offscreen platform needs no display.
    if QGuiApplication.instance() is None:
        QGuiApplication(["make_icons", "-platform", "offscreen"])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"Qt cannot read the icon {SVG}.")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # PySide6 takes str at run time
    return Image.open(io.BytesIO(buffer.data().data())).convert("RGBA")


def make_icons(folder: Path) -> dict[str, Path]:
    """Write the icons into folder; their paths by format."""
    folder.mkdir(parents=True, exist_ok=True)
    largest = _render(1024)
    out = {"ico": folder / "lookaloud.ico", "icns": folder / "lookaloud.icns", "png": folder / "lookaloud-256.png"}
    # Each size drawn by Qt from the vector, not scaled down from one bitmap: small sizes stay sharp.
    _render(256).save(out["ico"], format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                      append_images=[_render(s) for s in ICO_SIZES[:-1]])
    largest.save(out["icns"], format="ICNS", append_images=[_render(s) for s in ICNS_SIZES[:-1]])
    _render(256).save(out["png"], format="PNG")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python packaging/make_icons.py OUTPUT_FOLDER")
    for kind, path in make_icons(Path(sys.argv[1])).items():
        print(f"{kind}: {path}")
