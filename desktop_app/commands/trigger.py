"""`lookaloud trigger ACTION`: ask the running app to do something (for desktop shortcut settings)."""

from __future__ import annotations

import argparse
import sys

HELP = "Tell the running Lookaloud to do something, e.g. describe-screen."

APP_ACTIONS = ("show", "settings", "quit")


def _actions() -> list[str]:
    from desktop_app.hotkeys.base import Action

    return [a.value for a in Action] + list(APP_ACTIONS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=_actions(), metavar="ACTION", help="one of: " + ", ".join(_actions()))


def run(args: argparse.Namespace) -> int:
    from desktop_app.cli import EXIT_FAILED, EXIT_OK
    from desktop_app.ipc import send

    reply = send(args.action)
    if reply is None:
        print("lookaloud: Lookaloud is not running. Start it with: lookaloud", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if reply == "ok" else EXIT_FAILED
