"""`lookaloud transcribe WAV`: print what was said in a sound file, offline.

For scripts, and for checking a microphone setup (record with any tool, then transcribe).
"""

from __future__ import annotations

import argparse
import json
import sys

HELP = "Print what was said in a sound file (WAV, or any format FFmpeg reads), offline."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="WAV", help="the sound file to transcribe")
    parser.add_argument("--model", default=None,
                        help="speech model name (base, tiny.en, base.en, ...) or a folder; default base")
    parser.add_argument("--language", default="en", help='language code, or "auto" to detect; default en')
    parser.add_argument("--json", action="store_true",
                        help="print a JSON object with text, language, durations and model")


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK
    from desktop_app.models.speech_catalog import DEFAULT_STT_MODEL, SttModelError
    from desktop_app.speech.microphone import read_audio_file
    from desktop_app.speech.stt import SttError, SttLanguageError, Transcriber

    try:
        audio = read_audio_file(args.file)
    except (FileNotFoundError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"The file {args.file} could not be read: {exc.strerror or exc}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    model = args.model or DEFAULT_STT_MODEL
    try:
        transcriber = Transcriber(model, language=args.language)
        transcript = transcriber.transcribe(audio, trim_silence=True)
    except SttLanguageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except (SttModelError, SttError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_NO_MODEL
    if args.json:
        print(json.dumps({
            "text": transcript.text,
            "language": transcript.language,
            "audio_seconds": round(transcript.audio_seconds, 3),
            "seconds": round(transcript.seconds, 3),
            "model": model,
        }))
    else:
        print(transcript.text)
    return EXIT_OK
