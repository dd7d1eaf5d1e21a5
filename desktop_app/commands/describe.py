"""`lookaloud describe PICTURE... [--ask Q]...`: describe pictures and answer questions, in the terminal.

The description is the app's (describer.describe): the caption, then the text found and the
kind of picture; `--no-text` and `--no-kind` are the app's two description settings.
The caption is streamed as in the app: `--speak` says it before the text is read, and
`--json` gives `timings_ms.first_word` (from the picture reaching the model to its first
phrase written) and `tokens` (`{"caption": N, "answers": [N, ...]}`, tokens generated).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.describer import DescribeOptions, Description

from desktop_app.choices import Device, Precision

HELP = "Describe pictures and answer questions about them."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pictures", nargs="+", metavar="PICTURE", help="picture files to describe")
    parser.add_argument("--ask", action="append", default=[], metavar="QUESTION",
                        help="a question about each picture; repeat for follow-ups")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER",
                        help="a model name (see `lookaloud models list`) or a folder holding a model")
    parser.add_argument("--device", default="auto", choices=Device.values())
    parser.add_argument("--precision", default="auto", choices=Precision.values())
    parser.add_argument("--no-text", action="store_true",
                        help="do not read the text in the pictures: describe them by the caption alone")
    parser.add_argument("--no-kind", action="store_true",
                        help="do not say the kind of picture (\"Probably ...\", \"A screenshot.\")")
    parser.add_argument("--language", default="en", metavar="CODE", help="the language of the text to read")
    parser.add_argument("--json", action="store_true", help="print one JSON object per picture")
    parser.add_argument("--speak", action="store_true", help="also speak the results aloud")


def _error(message: str) -> None:
    print(f"lookaloud: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK
    from desktop_app.models import vision_catalog as catalog
    from desktop_app.vision.images import PictureError, load_picture

    # Check every picture before loading a model: a typo should not cost a minute of loading.
    pictures = []
    for path in args.pictures:
        try:
            pictures.append((path, load_picture(path)))
        except PictureError as exc:
            _error(str(exc))
            return EXIT_BAD_INPUT
    questions = [q for q in args.ask if q.strip()]
    if len(questions) != len(args.ask):
        _error("A question given with --ask is empty.")
        return EXIT_BAD_INPUT
    import torch

    from desktop_app.vision.loader import ModelLoadError, ModelNotInstalledError, load_model, one_line

    try:
        spec = catalog.resolve(args.model or catalog.DEFAULT_MODEL)
        loaded = load_model(spec, device=args.device, precision=args.precision)
    except (catalog.UnknownModelError, ModelNotInstalledError) as exc:
        _error(str(exc))
        return EXIT_NO_MODEL
    except ModelLoadError as exc:
        _error(str(exc))
        return EXIT_NO_MODEL
    if loaded.note:
        _error(loaded.note)
    from desktop_app.describer import DescribeOptions

    options = DescribeOptions(include_text=not args.no_text, include_kind=not args.no_kind, language=args.language)
    speaker = _speaker() if args.speak else None
    for path, image in pictures:
        try:
            loaded, found, answers, timings, tokens = _describe(loaded, image, questions, speaker, options)
        except ModelLoadError as exc:  # reloading on the CPU failed
            _error(str(exc))
            return EXIT_NO_MODEL
        except torch.OutOfMemoryError:
            _error("There is not enough memory to describe the picture.")
            return EXIT_FAILED
        except Exception as exc:  # noqa: BLE001 - a model that loads but cannot run gets one sentence
            _error(f"Lookaloud could not describe {path}: {one_line(exc)}.")
            return EXIT_FAILED
        if args.json:
            print(json.dumps({
                "image": str(path), "caption": found.caption, "kind": found.kind, "text": found.found_text,
                "description": found.spoken, "answers": answers, "model": spec.name,
                "device": loaded.device, "precision": loaded.precision,
                "timings_ms": {"load": round(loaded.load_ms, 1), **{k: round(v, 1) for k, v in timings.items()}},
                "tokens": tokens,
            }), flush=True)
        else:
            print(f"{path}: {found.spoken}")
            for item in answers:
                print(f"  {item['question']} {item['answer']}")
            sys.stdout.flush()
    return EXIT_OK


def _describe(loaded: Any, image: Any, questions: list[str], speaker: Callable[[str], None] | None,
              options: DescribeOptions
              ) -> tuple[Any, Description, list[dict[str, str]], dict[str, float], dict[str, Any]]:
    """The description and the answers for one picture, each spoken as soon as it is ready:
    the caption before the text in the picture is read, then the rest of the description.

    When the GPU runs out of memory, the model moves to the CPU (as the README promises), the
    user is told on stderr, and the picture is done again there without repeating what was
    already spoken. When the text cannot be read, the user is told on stderr and the picture is
    described by its caption. Returns the model in use, the description, the answers, the
    timings and the tokens generated.
    """
    import torch

    from desktop_app.describer import compose
    from desktop_app.ocr import OcrError
    from desktop_app.vision.loader import reload_on_cpu
    from desktop_app.vision.session import ImageSession

    spoken: list[str] = []

    def hear(index: int, text: str) -> None:
        if speaker and index >= len(spoken):
            spoken.append(text)
            if text:
                speaker(text)

    for attempt in (1, 2):
        try:
            session = ImageSession(loaded, image)
            # Speaking waits for the voice, so the caption is said once written, not per phrase.
            caption = session.caption_stream(None)
            hear(0, caption)
            try:
                found = compose(caption, image, options)
            except OcrError as exc:
                _error(f"{exc} The description says what the model saw, without the text.")
                found = compose(caption, image, replace(options, include_text=False))
            hear(1, found.after_caption if caption else found.spoken)
            answers = []
            for i, question in enumerate(questions, 2):
                answers.append({"question": question, "answer": session.ask(question)})
                hear(i, answers[-1]["answer"])
            return loaded, found, answers, session.timings_ms, session.tokens
        except torch.OutOfMemoryError:
            if loaded.device == "cpu" or attempt == 2:
                raise
            session = None  # let its GPU tensors go before loading again
            loaded = reload_on_cpu(loaded)
            _error(loaded.note)
    raise AssertionError("unreachable")


def _speaker():
    """A function that speaks a text and waits until it has been spoken, or None with a message."""
    from desktop_app.speech.output import speak_and_wait

    def speak(text: str) -> None:
        problem = speak_and_wait(text)
        if problem:
            _error(problem)

    return speak



