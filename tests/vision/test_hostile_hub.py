"""Downloads from a lying model server (testkit/hostilehub.py): what must never happen to a user.

Each attack ends the download with one sentence, writes nothing outside the folder the model
goes to (the whole test folder is checked), leaves the pinned-revision record clean, and
costs a bounded number of requests (once, a body larger than listed cost 7,370 requests in
90 seconds, and a listed name of ../../../../PWNED.json was written outside --dir).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop_app.models import hub as download
from desktop_app.models import store
from desktop_app.models.vision_catalog import BLIP2_OPT, ModelSpec
from testkit import fakehub
from testkit.hostilehub import HostileHub

REPO = "test/hostile"
FILES = {"config.json": b'{"model_type": "blip-2"}', "model.safetensors": bytes(range(256)) * 400}
MAX_REQUESTS = 50
PWNED = b'{"pwned": true}'


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HostileHub]:
    yield from fakehub.serve(tmp_path, monkeypatch, HostileHub)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    # Deep enough that four `..` still land inside the test's folder, where the check looks.
    return tmp_path / "a" / "b" / "c" / "d" / "e" / "models"


def every_file(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def allowed(path: Path, tmp_path: Path, dest: Path) -> bool:
    from desktop_app import paths

    places = [dest, tmp_path / "hub-cache" / ("models--" + REPO.replace("/", "--")), tmp_path / "hub-cache" / ".locks"]
    return path == paths.data_dir() / store.RECORD_FILE or any(path.is_relative_to(p) for p in places)


def one_sentence(text: str) -> bool:
    return "\n" not in text and text.endswith(".") and "Traceback" not in text and len(text) < 300


def attempt(hub: HostileHub, tmp_path: Path, dest: Path | None, commit: str = "",
            within_s: float = 30.0, stop: bool = True) -> download.DownloadError:
    """Download REPO from the hostile hub in a worker (a hang guard); the error it ended with."""
    before = every_file(tmp_path)
    outcome: dict[str, Any] = {}
    spec = ModelSpec("hostile", BLIP2_OPT, "A hostile model.", REPO, commit, params_billion=0.001)

    def work() -> None:
        try:
            outcome["path"] = download.download_model(spec, dest_dir=dest)
        except Exception as error:  # noqa: BLE001 - the test looks at what came out
            outcome["error"] = error

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(within_s)
    assert not worker.is_alive(), f"the download was still going after {within_s} s"
    if stop:
        hub.stop()  # what it left behind is final now
    # The harm first, then how the download ended.
    outside = {p for p in every_file(tmp_path) - before if not allowed(p, tmp_path, dest or tmp_path / "-")}
    assert outside == set(), f"written outside the model's folder: {sorted(map(str, outside))}"
    assert not [p for p in every_file(tmp_path) if "PWNED" in p.name]
    record = store.read_record().get("repos", {}).get(REPO, {})
    assert record.get("revision") in (None, commit or hub.repos[REPO].refs["main"]), f"record poisoned: {record}"
    assert len(hub.requests) < MAX_REQUESTS, f"{len(hub.requests)} requests"
    error = outcome.get("error")
    assert isinstance(error, download.DownloadError), f"the download did not fail cleanly: {outcome}"
    assert one_sentence(str(error)), str(error)
    return error


def with_sibling(**entry: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A listing lie: one more file, with the fields given (the rest taken from PWNED)."""
    def lie(payload: dict[str, Any]) -> dict[str, Any]:
        sibling = {"rfilename": "PWNED.json", "size": len(PWNED), "blobId": fakehub.git_blob_id(PWNED)}
        sibling.update(entry)
        payload["siblings"].append(sibling)
        return payload
    return lie


def changed(name: str, **fields: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def lie(payload: dict[str, Any]) -> dict[str, Any]:
        for sibling in payload["siblings"]:
            if sibling["rfilename"] == name:
                sibling.update(fields)
        return payload
    return lie


TRAVERSALS = {
    "parent folders": "../../../../PWNED.json",
    "parent inside a path": "sub/../../../../../PWNED.json",
    "absolute": "/{tmp}/PWNED.json",
    "backslashes": "..\\..\\..\\..\\PWNED.json",
    "drive letter": "C:/PWNED.json",
    "drive-relative": "C:..\\PWNED.json",
    "nul byte": "PWNED.json\x00../../x.json",
    "empty part": "a//PWNED.json",
    "work folder": ".lookaloud-download/PWNED.json",
    "empty": "",
}


@pytest.mark.parametrize("to_cache", [False, True], ids=["dir", "cache"])
@pytest.mark.parametrize("name", list(TRAVERSALS.values()), ids=list(TRAVERSALS))
def test_a_listed_name_that_leaves_the_folder_refuses_the_whole_download(
        hub: HostileHub, tmp_path: Path, dest: Path, name: str, to_cache: bool) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.lie = with_sibling(rfilename=name.replace("{tmp}", str(tmp_path).lstrip("/")))
    hub.fallback = PWNED

    error = attempt(hub, tmp_path, None if to_cache else dest, commit)

    assert error.kind == "unsafe"
    assert hub.file_requests() == []  # refused before a single file was fetched
    assert not dest.exists() or list(dest.rglob("*.json")) == []


@pytest.mark.parametrize("lie", [
    changed("config.json", blobId="../../x"),
    changed("config.json", blobId="0" * 39 + "g"),
    changed("model.safetensors", lfs={"sha256": "../../../../PWNED", "size": 1, "pointerSize": 1}),
    changed("model.safetensors", lfs={"sha256": "A" * 64, "size": 1, "pointerSize": 1}),
    changed("model.safetensors", lfs="not a dict"),
    changed("config.json", size=-1),
    changed("config.json", size="24"),
    changed("model.safetensors", size=10**15),
    lambda payload: dict(payload, siblings=payload["siblings"] * 2),  # the same name twice
    lambda payload: dict(payload, siblings=[dict(payload["siblings"][0], rfilename=f"f{i}.json")
                                            for i in range(30_000)]),
], ids=["blob traversal", "blob not hex", "sha256 traversal", "sha256 upper case", "lfs not a dict",
        "negative size", "size as text", "huge size", "duplicate name", "too many files"])
def test_bad_checksums_sizes_and_listings_refuse_the_download(hub: HostileHub, tmp_path: Path, dest: Path,
                                                              lie: Callable) -> None:
    hub.add_commit(REPO, FILES)
    hub.lie = lie

    for target in (dest, None):
        error = attempt(hub, tmp_path, target, "", stop=False)
        assert error.kind == "unsafe"
        hub.requests.clear()
    assert hub.file_requests() == []
    assert store.pinned_revision(REPO) == ""  # nothing was pinned for a server caught lying


@pytest.mark.parametrize("sha", ["../../x", "../../" + "a" * 40, "A" * 40, "a" * 41, "main", "/etc"])
def test_a_bad_commit_id_is_neither_a_folder_nor_the_pinned_revision(hub: HostileHub, tmp_path: Path,
                                                                     dest: Path, sha: str) -> None:
    hub.add_commit(REPO, FILES)
    hub.lie = lambda payload: dict(payload, sha=sha)

    error = attempt(hub, tmp_path, None, "")

    assert error.kind == "unsafe"
    assert store.pinned_revision(REPO) == ""
    assert REPO not in store.read_record().get("repos", {})
    snapshots = tmp_path / "hub-cache" / ("models--" + REPO.replace("/", "--")) / "snapshots"
    assert not snapshots.exists() or list(snapshots.iterdir()) == []


@pytest.mark.parametrize("to_cache", [False, True], ids=["dir", "cache"])
def test_a_body_larger_than_listed_is_damage_not_a_loop(hub: HostileHub, tmp_path: Path, dest: Path,
                                                        to_cache: bool) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.extra = b"more than was listed" * 100

    error = attempt(hub, tmp_path, None if to_cache else dest, commit)

    assert error.kind == "corrupt" and "arrived damaged" in str(error)
    assert not [p for p in every_file(tmp_path) if p.name.endswith(".incomplete") and p.stat().st_size]


def test_an_endless_body_stops_at_the_listed_size(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.endless = True

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "corrupt"
    assert sum(p.stat().st_size for p in every_file(tmp_path) if p.is_file()) < 10 * 1024 * 1024


def test_a_body_that_never_comes_ends_with_a_sentence(hub: HostileHub, tmp_path: Path, dest: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(download, "_STALL_LIMIT_S", 3.0)  # 30 s for users; the rule, not the wait, is tested
    commit = hub.add_commit(REPO, FILES)
    hub.silent_s = 60.0

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "network" and "could not reach the model server" in str(error)


def test_a_trickle_that_would_never_finish_ends_with_a_sentence(hub: HostileHub, tmp_path: Path, dest: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Scaled down from 32 KB in 30 s: 40 KB a second (a 16 KB piece every 0.4 s, so never a
    # stall), where 200 KB in 2 s is asked for, of a file that would take 25 s.
    monkeypatch.setattr(download, "_STALL_LIMIT_S", 2.0)
    monkeypatch.setattr(download, "_MIN_BYTES_PER_STALL_WINDOW", 200_000)
    commit = hub.add_commit(REPO, dict(FILES, **{"model.safetensors": bytes(1_000_000)}))
    hub.throttle_bps = 40_000

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "network" and "too slowly" in str(error)


def test_a_server_that_breaks_off_every_transfer_is_given_up_on(hub: HostileHub, tmp_path: Path,
                                                                dest: Path) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.cut_after, hub.cuts = 2_000, 10_000  # a byte of progress each time, so never "no progress"

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "network" and "kept breaking off" in str(error)


def test_wrong_bytes_are_caught_once_not_fetched_forever(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.corrupt.add("model.safetensors")

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "corrupt"
    assert len(hub.file_requests()) <= 4


def test_a_resume_answered_from_the_wrong_offset_is_damage(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.cut_after, hub.cuts, hub.wrong_range = 20_000, 1, True

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "corrupt"


def test_a_redirect_to_another_server_is_not_followed(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    with HostileHub(lifetime_s=60) as elsewhere:
        commit = hub.add_commit(REPO, FILES)
        sha = hashlib.sha256(FILES["model.safetensors"]).hexdigest()
        hub.redirect_to = f"{elsewhere.url}/cdn/{sha}"

        error = attempt(hub, tmp_path, dest, commit)

        assert error.kind == "unsafe" and "another server, 127.0.0.1" in str(error)
        assert elsewhere.requests == []


def test_a_redirect_loop_ends(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    commit = hub.add_commit(REPO, FILES)
    hub.redirect_to = f"{hub.url}/{REPO}/resolve/{commit}/config.json"

    error = attempt(hub, tmp_path, dest, commit)

    assert error.kind == "server" and "round in circles" in str(error)


def test_the_command_says_one_sentence_and_writes_nothing_outside_dir(
        hub: HostileHub, tmp_path: Path, dest: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.cli import EXIT_FAILED, main
    from desktop_app.models import vision_catalog as catalog

    commit = hub.add_commit(REPO, FILES)
    spec = catalog.ModelSpec("hostile", catalog.BLIP2_OPT, "A hostile model.", REPO, commit,
                             download_mb=1, params_billion=0.001)
    monkeypatch.setitem(catalog.CATALOG, spec.name, spec)
    hub.lie = with_sibling(rfilename="../../../../PWNED.json")
    hub.fallback = PWNED
    started = time.monotonic()

    code = main(["models", "download", "hostile", "--dir", str(dest)])

    err = capsys.readouterr().err.strip()
    assert code == EXIT_FAILED and time.monotonic() - started < 30
    assert err == ("The model server sent a file name that points outside the model's folder for test/hostile, "
                   "so Lookaloud refused the whole download.")
    assert not [p for p in every_file(tmp_path) if "PWNED" in p.name]
    assert store.pinned_revision(REPO) in ("", commit)


def test_speech_models_get_the_same_guarantees(hub: HostileHub, tmp_path: Path, dest: Path) -> None:
    from desktop_app.models import speech_catalog

    model = speech_catalog.STT_MODELS["base.en"]
    files = {"config.json": b"{}", "model.bin": b"ct2" * 1000, "tokenizer.json": b"{}", "vocabulary.txt": b"a"}
    hub.add_commit(model.repo_id, files, sha=model.revision)
    hub.lie = with_sibling(rfilename="../../../../model.bin")
    hub.fallback = PWNED
    before = every_file(tmp_path)

    with pytest.raises(download.DownloadError) as caught:
        download.download_repo(model.repo_id, model.revision, model.allow_patterns, dest, require_safetensors=False)

    assert caught.value.kind == "unsafe" and one_sentence(str(caught.value))
    assert every_file(tmp_path) - before <= {p for p in every_file(tmp_path) if allowed(p, tmp_path, dest)}
    assert hub.file_requests() == []
    with pytest.raises(speech_catalog.SttModelNotInstalledError):
        store.resolve_stt_model("base.en")

    hub.lie, hub.fallback = None, None  # an honest answer, into a chosen folder this time
    folder = download.download_repo(model.repo_id, model.revision, model.allow_patterns, dest,
                                    require_safetensors=False)
    assert folder == dest and store.resolve_stt_model("base.en") == dest
    assert {p.split("/resolve/")[1].split("/")[0] for p, _ in hub.file_requests() if "/resolve/" in p} == {
        model.revision}
