"""Text in pictures: offline OCR (engine.py), reading order (layout.py), photo/screenshot/
document classification (kind.py) and the spoken description built from them (compose.py).

Qt-free; every function here may run on the inference worker thread.
"""

from desktop_app.ocr.compose import compose_description
from desktop_app.ocr.engine import Box, OcrBlock, OcrCancelled, OcrError, OcrLine, OcrResult, read_text
from desktop_app.ocr.kind import Classification, PictureFeatures, PictureKind, classify_picture

__all__ = [
    "Box",
    "Classification",
    "OcrBlock",
    "OcrCancelled",
    "OcrError",
    "OcrLine",
    "OcrResult",
    "PictureFeatures",
    "PictureKind",
    "classify_picture",
    "compose_description",
    "read_text",
]
