"""The frozen app's entry point (PyInstaller runs this file as __main__): the `lookaloud` command."""

import multiprocessing
import sys

if __name__ == "__main__":
    # A frozen program that starts a child process through multiprocessing must say so first,
    # or the child runs the whole program again (Windows and macOS spawn children).
    multiprocessing.freeze_support()
    from desktop_app.cli import main

    sys.exit(main())
