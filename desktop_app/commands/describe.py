"""`lookaloud describe PICTURE... [--ask Q]...`: describe pictures and answer questions, in the terminal."""

from __future__ import annotations

import argparse
import json
import sys

HELP = "Describe pictures and answer questions about them."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pictures", nargs="+", metavar="PICTURE", help="picture files to describe")
    parser.add_argument("--ask", action="append", default=[], metavar="QUESTION",
                        help="a question about each picture; repeat for follow-ups")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER",
                        help="a model name (see `lookaloud models list`) or a folder holding a model")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument("--json", action="store_true", help="print one JSON object per picture")
    parser.add_argument("--speak", action="store_true", help="also speak the results aloud")


def _error(message: str) -> None:
    print(f"lookaloud: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK
    from desktop_app.vision import catalog
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
    from desktop_app.vision.loader import ModelLoadError, ModelNotInstalledError, load_model
    from desktop_app.vision.session import ImageSession

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
    speaker = _speaker() if args.speak else None
    for path, image in pictures:
        session = ImageSession(loaded, image)
        caption = session.caption()
        answers = []
        if speaker:
            speaker(caption)
        for question in questions:
            answer = session.ask(question)
            answers.append({"question": question, "answer": answer})
            if speaker:
                speaker(answer)
        if args.json:
            print(json.dumps({
                "image": str(path), "caption": caption, "answers": answers, "model": spec.name,
                "device": loaded.device, "precision": loaded.precision,
                "timings_ms": {"load": round(loaded.load_ms, 1), **{k: round(v, 1) for k, v in session.timings_ms.items()}},
            }), flush=True)
        else:
            print(f"{path}: {caption}")
            for item in answers:
                print(f"  {item['question']} {item['answer']}")
            sys.stdout.flush()
    return EXIT_OK


def _speaker():
    """A function that speaks a text and waits until it has been spoken, or None with a message."""
    from desktop_app.speech.output import speak_and_wait

    def speak(text: str) -> None:
        problem = speak_and_wait(text)
        if problem:
            _error(problem)

    return speak



