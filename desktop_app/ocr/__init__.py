"""Text in pictures, Qt-free; every function here may run on the inference worker thread.

The public names of the OCR package, from the modules that own them:
- types.py: the result types (Box, OcrLine, OcrBlock, OcrResult) and the errors;
- engines/: one module per engine (Tesseract, RapidOCR) behind one protocol;
- prepare.py: the picture made ready for an engine (grey, dark mode inverted, enlarged);
- layout.py: recognised lines in reading order;
- kind.py: photo, screenshot or document;
- reader.py: read_text(), which picks an engine, runs it and orders the lines;
- compose.py: the spoken description built from caption, kind and text.
"""

from desktop_app.ocr.compose import compose_description
from desktop_app.ocr.kind import Classification, PictureFeatures, PictureKind, classify_picture
from desktop_app.ocr.reader import read_text
from desktop_app.ocr.types import Box, OcrBlock, OcrCancelled, OcrError, OcrLine, OcrResult

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
