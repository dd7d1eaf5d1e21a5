"""Lookaloud: an offline screen-reader companion that describes pictures and answers questions.

Importing the package makes the process offline for Hugging Face libraries: `HF_HUB_OFFLINE`
and `TRANSFORMERS_OFFLINE` are set to 1 before anything can import transformers or
huggingface_hub (every entry point, `lookaloud` and `python -m desktop_app`, imports this
first), so loading a model can never reach the network whatever its folder's configs name.
The one exception is the explicit download step (desktop_app/models/hub.py), which uses
its own HTTP client and never the hub libraries' network code.

The user's own wish to stay offline is kept in `LOOKALOUD_USER_OFFLINE` ("1" or "0"), read
once by the first Lookaloud process and inherited by its children, so that downloads still
refuse when the user had set HF_HUB_OFFLINE themselves.
"""

import os
import sys

__version__ = "0.1.0"

_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
USER_OFFLINE_VARIABLE = "LOOKALOUD_USER_OFFLINE"


def _is_true(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _go_offline() -> None:
    if USER_OFFLINE_VARIABLE not in os.environ:
        wished = any(_is_true(os.environ.get(name)) for name in _OFFLINE_VARIABLES)
        os.environ[USER_OFFLINE_VARIABLE] = "1" if wished else "0"
    for name in _OFFLINE_VARIABLES:
        os.environ[name] = "1"
    # huggingface_hub reads the variable once, at import; a host that imported it first
    # (a test runner, an embedding program) is switched too.
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


_go_offline()
