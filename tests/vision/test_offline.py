"""Offline outside an explicit download: every Lookaloud process sets HF_HUB_OFFLINE and
TRANSFORMERS_OFFLINE before transformers is imported, describing a picture makes no network
call even when the model folder names hub repositories, and the download step alone still
reaches the (fake) hub.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.models import hub as download
from desktop_app.models import vision_catalog as catalog
from testkit import fakehub
from testkit.fakehub import FakeHub

# Loaded by the child Python at start-up (sitecustomize): records every attempt to open an
# internet socket or look up a host name, and refuses the connection, a second guard beside
# the recording server; at exit it writes down whether the hub library was offline.
SITECUSTOMIZE = '''
import atexit, json, os, socket, sys

_LOG = os.environ["LOOKALOUD_TEST_NET_LOG"]

def _note(what):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps(what) + "\\n")

def _hook(event, args):
    if event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6):
        _note({"connect": repr(args[1])})
        raise ConnectionRefusedError("no network in this test")
    if event == "socket.getaddrinfo":
        _note({"lookup": repr(args[0])})

sys.addaudithook(_hook)

@atexit.register
def _state():
    constants = sys.modules.get("huggingface_hub.constants")
    _note({"HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE"),
           "TRANSFORMERS_OFFLINE": os.environ.get("TRANSFORMERS_OFFLINE"),
           "hub_offline": getattr(constants, "HF_HUB_OFFLINE", None),
           "transformers_imported": "transformers" in sys.modules})
'''


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    yield from fakehub.serve(tmp_path, monkeypatch)


def online_user_env(tmp_path: Path, hub: FakeHub) -> tuple[dict[str, str], Path]:
    """A user's environment with nothing offline in it, the hub at `hub`, and the guard."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LOOKALOUD_USER_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(tmp_path / "hf-home"), HF_HUB_CACHE=str(tmp_path / "hub-cache"),
               LOOKALOUD_TEST_NET_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(guard), os.environ.get("PYTHONPATH", "")]))
    return env, log


def net_log(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def lookaloud() -> list[str]:
    script = Path(sys.executable).with_name("lookaloud")
    return [str(script)] if script.exists() else [sys.executable, "-m", "desktop_app"]


def greedy_model(tmp_path: Path) -> Path:
    """The demo model, whose configs now name hub repositories and ask for them."""
    folder = tmp_path / "greedy-model"
    shutil.copytree(catalog.demo_folder(), folder)

    def edit(name: str, **fields: object) -> None:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
        data.update(fields)
        (folder / name).write_text(json.dumps(data), encoding="utf-8")

    edit("config.json", _name_or_path="Salesforce/blip2-opt-2.7b", transformers_version="4.40.0")
    edit("tokenizer_config.json", name_or_path="mistralai/Mistral-7B-v0.1", is_local=False, local_files_only=False)
    edit("processor_config.json", _name_or_path="Salesforce/blip2-opt-2.7b")
    return folder


def test_describe_makes_no_network_call_even_when_the_model_folder_asks(tmp_path: Path, hub: FakeHub) -> None:
    from PIL import Image

    picture = tmp_path / "red.png"
    Image.new("RGB", (96, 96), "red").save(picture)
    env, log = online_user_env(tmp_path, hub)

    done = subprocess.run([*lookaloud(), "describe", str(picture), "--model", str(greedy_model(tmp_path))],
                          env=env, capture_output=True, text=True, timeout=180, check=False)

    assert done.returncode == 0, done.stderr
    assert "red" in done.stdout.lower()  # it still describes the picture
    assert hub.requests == []
    entries = net_log(log)
    assert [e for e in entries if "connect" in e or "lookup" in e] == []
    state = entries[-1]
    assert state["transformers_imported"]  # the model really was loaded through transformers
    assert (state["HF_HUB_OFFLINE"], state["TRANSFORMERS_OFFLINE"], state["hub_offline"]) == ("1", "1", True)


@pytest.mark.parametrize("argv", [["models", "list"], ["describe", "--help"], ["transcribe", "--help"]])
def test_every_command_runs_offline(tmp_path: Path, hub: FakeHub, argv: list[str]) -> None:
    env, log = online_user_env(tmp_path, hub)
    code = (f"import sys; from desktop_app.cli import main; import huggingface_hub; import transformers; "
            f"sys.exit(main({argv!r}))")

    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          check=False)

    assert done.returncode == 0, done.stderr
    state = net_log(log)[-1]
    assert (state["HF_HUB_OFFLINE"], state["TRANSFORMERS_OFFLINE"], state["hub_offline"]) == ("1", "1", True)
    assert hub.requests == []


def test_only_the_download_step_reaches_the_hub(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    commit = hub.add_commit("test/online", {"config.json": b"{}", "model.safetensors": b"w" * 1000})
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as in every Lookaloud process

    folder = download.download_repo("test/online", commit)  # the explicit step still works

    assert (folder / "model.safetensors").read_bytes() == b"w" * 1000
    asked = len(hub.requests)
    with pytest.raises(OfflineModeIsEnabled):  # while the hub library itself stays offline
        HfApi(endpoint=hub.url).model_info("test/online", revision=commit)
    assert len(hub.requests) == asked


def test_a_user_who_set_hf_hub_offline_gets_no_download(tmp_path: Path, hub: FakeHub) -> None:
    commit = hub.add_commit("test/online", {"config.json": b"{}", "model.safetensors": b"w" * 1000})
    env, log = online_user_env(tmp_path, hub)
    env["HF_HUB_OFFLINE"] = "1"  # the user's own wish, before Lookaloud started
    script = ("import sys\nfrom desktop_app.models import vision_catalog as catalog\n"
              "catalog.CATALOG['t'] = catalog.ModelSpec('t', catalog.BLIP2_OPT, 'T.', 'test/online', sys.argv[1],"
              " download_mb=1, params_billion=0.001)\n"
              "from desktop_app.cli import main\nsys.exit(main(['models', 'download', 't']))\n")

    done = subprocess.run([sys.executable, "-c", script, commit], env=env, capture_output=True, text=True,
                          timeout=120, check=False)

    assert done.returncode == 1
    assert done.stderr.strip() == ("Downloads are turned off on this computer because HF_HUB_OFFLINE is set. "
                                   "Unset it to download models.")
    assert hub.requests == []
    assert [e for e in net_log(log) if "connect" in e] == []
