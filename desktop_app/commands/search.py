"""`lookaloud search "QUERY" [--folder F] [--top N] [--json]`: find indexed pictures by what they show.

Prints the best pictures first, each with its caption when the index has one; with --json one
object per line: {"image", "score", "caption"} (and "match", the matching head's probability,
for the re-ranked ones). Nothing is searched but the local index (`lookaloud index`).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from desktop_app.choices import Device, Precision

HELP = "Find indexed pictures by what they show."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help='what the picture shows, such as "a receipt from a garage"')
    parser.add_argument("--folder", default="", metavar="FOLDER", help="only pictures under this folder")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="how many pictures to show (default 10)")
    parser.add_argument("--rerank", type=int, default=None, metavar="K",
                        help="re-rank the best K with the image-text matching head (default 10 on a GPU or with a "
                             "small model, else 0: each costs a look at the picture)")
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER",
                        help="the picture search model the folders were indexed with")
    parser.add_argument("--device", default="auto", choices=Device.values())
    parser.add_argument("--precision", default="auto", choices=Precision.values())
    parser.add_argument("--json", action="store_true", help='print one JSON object per line: image, score, caption')


def _error(message: str) -> None:
    print(f"lookaloud: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_NO_MODEL, EXIT_OK

    query = " ".join(args.query.split())
    if not query:
        _error("The search is empty: say what the picture shows.")
        return EXIT_BAD_INPUT
    if args.top < 1:
        _error("--top must be 1 or more.")
        return EXIT_BAD_INPUT
    folder = str(Path(args.folder).expanduser().resolve()) if args.folder else ""
    try:
        folder.encode("utf-8")
    except UnicodeEncodeError:
        _error("The folder's name is not valid text, so no indexed picture is under it.")
        return EXIT_BAD_INPUT
    from desktop_app.models import vision_catalog as catalog
    from desktop_app.retrieval.engine import load_retrieval_model
    from desktop_app.retrieval.finder import NotIndexedError, search
    from desktop_app.retrieval.store import IndexStore, IndexUnusableError
    from desktop_app.vision.loader import ModelLoadError, ModelNotInstalledError

    try:
        retrieval = load_retrieval_model(args.model, device=args.device, precision=args.precision)
    except (catalog.UnknownModelError, ModelNotInstalledError, ModelLoadError) as exc:
        _error(str(exc))
        return EXIT_NO_MODEL
    try:
        with IndexStore() as store:
            results = search(retrieval, store, query, args.top, folder, args.rerank)
    except (IndexUnusableError, NotIndexedError) as exc:
        _error(str(exc))
        return EXIT_FAILED
    except sqlite3.Error as exc:  # busy for too long: another program holds the index
        _error(f"The picture index could not be read: {exc}.")
        return EXIT_FAILED
    if not results:
        print("No indexed picture is under that folder." if folder else "No pictures are indexed yet.")
        return EXIT_OK
    for found in results:
        if args.json:
            item = {"image": found.path, "score": round(found.score, 6), "caption": found.caption}
            if found.match is not None:
                item["match"] = round(found.match, 6)
            print(json.dumps(item))
        else:
            print(f"{found.path}: {found.caption}" if found.caption else found.path)
    sys.stdout.flush()
    return EXIT_OK
