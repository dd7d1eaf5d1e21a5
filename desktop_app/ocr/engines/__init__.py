"""The OCR engines, one module each behind the OcrEngine protocol (protocol.py): Tesseract
(tesseract.py) and RapidOCR (rapid.py). Which one reads a picture is the reader's choice.
"""
