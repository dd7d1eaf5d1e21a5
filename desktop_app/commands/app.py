"""`lookaloud` with no arguments: start the desktop app (tray, window, hotkeys)."""

from __future__ import annotations

import argparse

HELP = "Start the Lookaloud app (the default when no command is given)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, metavar="NAME_OR_FOLDER", help="model to use this time")
    parser.add_argument("--no-window", action="store_true", help="start in the tray without opening the window")


def run(args: argparse.Namespace) -> int:
    from desktop_app.app import run_app

    return run_app(args)
