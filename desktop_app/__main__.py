"""`python -m desktop_app` runs the `lookaloud` command."""

import sys

from desktop_app.cli import main

sys.exit(main())
