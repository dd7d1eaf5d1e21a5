"""One module per `lookaloud` subcommand (see desktop_app/cli.py)."""
