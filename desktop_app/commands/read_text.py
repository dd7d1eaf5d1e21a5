"""`lookaloud read-text PICTURE [--json] [--language LANG]`: the text in a picture, in reading
order, printed for the terminal or a screen reader (or as JSON with boxes, timings and the
picture's kind)."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "Print the text in a picture in reading order, read offline without the vision model."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("picture", help="The picture file to read.")
    parser.add_argument(
        "--json", action="store_true", help="Print text, lines with boxes, kind and timings as JSON."
    )
    parser.add_argument(
        "--language",
        default="en",
        help="The language of the text as a two-letter code, for example en or de.",
    )


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
    from desktop_app.ocr import OcrError, classify_picture, read_text
    from desktop_app.vision.images import PictureError, load_picture

    try:
        image = load_picture(args.picture)
    except PictureError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        result = read_text(image, language=args.language)
    except OcrError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        payload = {**result.to_dict(), "picture": classify_picture(image, result).to_dict()}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(result.text if result.blocks else "No text was found in the picture.")
    return EXIT_OK
