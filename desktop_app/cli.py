"""The `lookaloud` command: argument parsing and dispatch to one module per subcommand.

Each subcommand lives in desktop_app/commands/<name>.py and exposes HELP, add_arguments(parser)
and run(args) -> int. Those modules import heavy libraries (torch, Qt) only inside run(), so
`lookaloud --help` and the IPC trigger stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> module; the order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "app": "desktop_app.commands.app",
    "describe": "desktop_app.commands.describe",
    "models": "desktop_app.commands.models",
    "trigger": "desktop_app.commands.trigger",
    "transcribe": "desktop_app.commands.transcribe",
    "read-text": "desktop_app.commands.read_text",
    "alt-text": "desktop_app.commands.alt_text",
    "index": "desktop_app.commands.index",
    "search": "desktop_app.commands.search",
}

# Exit codes shared by every subcommand.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_MODEL = 3


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's module is imported (fast start-up)."""
    parser = argparse.ArgumentParser(
        prog="lookaloud",
        description="Lookaloud describes what is on your screen and answers questions about it, offline.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(module_name)
        sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["app", *argv]
    parser = build_parser(argv[0] if argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
