"""No sound file is left behind: spoken sentences and earcons can be a description of the
user's screen, so they must not pile up on disk.

What a user (or anyone else on the machine) would notice: after `lookaloud describe --speak`,
after the app spoke and played earcons and shut down, or after a crash and the next start,
there is no sound file under $TMPDIR or the runtime folder; a sound that had to be a file
for its player lived only in one private 0700 folder and only while it played.

Every test points TMPDIR and XDG_RUNTIME_DIR at empty private folders of its own, and uses
the real espeak-ng / pyttsx3, real players (aplay into ALSA's null device, paplay into a
real-time PulseAudio null sink) and real `lookaloud` processes.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Self

import psutil
import pytest

from desktop_app.speech.audio_out import CommandAudioOut
from desktop_app.speech.own_voice import OwnVoiceSpeaker
from desktop_app.speech.synthesizers import EspeakNgSynthesizer, PyttsxSynthesizer

pytestmark = pytest.mark.skipif(
    not OwnVoiceSpeaker.check() or not EspeakNgSynthesizer.check(), reason="espeak-ng is not installed"
)

SENTENCES = "The screen shows a bank statement. The balance is low. A message from Sam is open."


class Dirs:
    """An empty private TMPDIR and XDG_RUNTIME_DIR, and what a scan finds under them."""

    def __init__(self, root: Path) -> None:
        self.tmp = root / "tmp"
        self.run = root / "run"
        for folder in (self.tmp, self.run):
            folder.mkdir(mode=0o700)
        self.seen: set[Path] = set()

    @property
    def env(self) -> dict[str, str]:
        return {"TMPDIR": str(self.tmp), "XDG_RUNTIME_DIR": str(self.run)}

    def files(self) -> list[Path]:
        """Every file (not folder) under both, e.g. a WAV being played."""
        found = []
        for folder in (self.tmp, self.run):
            for dirpath, _dirs, names in os.walk(folder):
                found += [Path(dirpath, n) for n in names]
        return found

    def scan(self) -> list[Path]:
        found = self.files()
        self.seen.update(found)
        return found

    def sound_files_seen(self) -> list[Path]:
        return sorted(p for p in self.seen if p.suffix.lower() in (".wav", ".aiff", ".raw"))

    def our_folders(self) -> list[Path]:
        """Folders Lookaloud made for its private files (the runtime folder itself, which also holds the
        app's socket, and the sound server's and torch's own folders are not ours to judge)."""
        return sorted(
            p for folder in (self.tmp, self.run) for p in folder.rglob("*")
            if p.is_dir() and (p.name.startswith(("files-", "lookaloud-")) or "speech" in p.name)
        )  # fmt: skip


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dirs:
    """Private folders, also for this process (tempfile caches its folder once found)."""
    d = Dirs(tmp_path)
    for name, value in d.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tempfile, "tempdir", None)
    return d


class Poller:
    """Scans the folders every few milliseconds while something runs, to catch short-lived files."""

    def __init__(self, dirs: Dirs) -> None:
        self.dirs = dirs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.dirs.scan()
            time.sleep(0.005)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.dirs.scan()


def player_env(dirs: Dirs, player: str, pulse: str | None) -> dict[str, str]:
    env = {**os.environ, **dirs.env, "OMP_NUM_THREADS": "1", "LOOKALOUD_AUDIO_PLAYER": player}
    if pulse:
        env["PULSE_SERVER"] = pulse
    return env


def picture(tmp_path: Path) -> Path:
    from testkit import demo_scenes as ds

    path = tmp_path / "scene.png"
    ds.random_scene(3_100_000).render().save(path)
    return path


def describe_and_speak(pic: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", "describe", str(pic), "--speak", "--model", "shapes-demo",
         "--ask", "What colour is the shape on the left?"],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip


# -- lookaloud describe --speak --------------------------------------------------------------


@pytest.mark.parametrize("player", ["aplay -q -D null", "paplay"])
def test_describe_speak_leaves_no_sound_file(dirs: Dirs, tmp_path: Path, player: str, request) -> None:
    pulse = request.getfixturevalue("pulse_server") if player == "paplay" else None
    pic = picture(tmp_path)
    with Poller(dirs):
        result = describe_and_speak(pic, player_env(dirs, player, pulse))
    assert result.returncode == 0, result.stderr
    assert "could not play" not in result.stderr, result.stderr  # it really was played
    assert dirs.sound_files_seen() == []  # not even while it played
    assert dirs.files() == []


def test_describe_speak_without_a_sound_device_leaves_no_sound_file(dirs: Dirs, tmp_path: Path) -> None:
    """The machine's own default player, which finds no sound card here: same message as
    before, and no file."""
    pic = picture(tmp_path)
    env = {**os.environ, **dirs.env, "OMP_NUM_THREADS": "1"}
    env.pop("LOOKALOUD_AUDIO_PLAYER", None)
    env.pop("PULSE_SERVER", None)
    with Poller(dirs):
        result = describe_and_speak(pic, env)
    assert result.returncode == 0, result.stderr
    assert dirs.sound_files_seen() == []
    assert dirs.files() == []


# -- the app's own voice and earcons ---------------------------------------------------------


# The app's voice and earcons, in a process of its own (pyttsx3's espeak driver keeps state
# from one engine to the next, which must not reach other tests): speaks, sounds earcons,
# says which files it finds once everything has been played, then shuts down (or just exits).
APP_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from desktop_app.speech.audio_out import CommandAudioOut
    from desktop_app.speech.earcons import Earcon
    from desktop_app.speech.output import SpeechOutput, SpeechSettings
    from desktop_app.speech.own_voice import OwnVoiceSpeaker
    from desktop_app.speech.synthesizers import EspeakNgSynthesizer, PyttsxSynthesizer
    synthesizer, player, pulse, ending = sys.argv[1:5]
    if player == "aplay":
        audio = CommandAudioOut(["aplay", "-q", "-D", "null"])
    else:  # a player that only takes a file name, as afplay on macOS or an unknown
        # LOOKALOUD_AUDIO_PLAYER: the one case where a sound becomes a file
        audio = CommandAudioOut(["paplay"], env={"PULSE_SERVER": pulse}, stdin=False)
    kind = {"espeak-ng": EspeakNgSynthesizer, "pyttsx3": PyttsxSynthesizer}[synthesizer]
    out = SpeechOutput(SpeechSettings(earcons=True), audio_out=audio, screen_reader=None,
                       own_voice=lambda: OwnVoiceSpeaker(audio, synthesizer=kind()))
    playbacks = [out.earcons.play(Earcon.ACCEPTED)]
    out.speak(sys.argv[5])
    assert out.wait_until_done(60) and out.failures == 0
    playbacks += [out.earcons.play(Earcon.DONE), out.earcons.play(Earcon.ERROR)]
    out.earcons.volume = 0.3  # a new volume: a newly scaled sound
    playbacks.append(out.earcons.play(Earcon.DONE))
    assert all(p is not None and p.wait(20) and p.ok for p in playbacks)
    found = [os.path.join(d, n) for root in (os.environ["TMPDIR"], os.environ["XDG_RUNTIME_DIR"])
             for d, _, names in os.walk(root) for n in names]
    print(json.dumps(found), flush=True)
    if ending == "close":
        out.close()  # the app's shutdown
    """
)


@pytest.mark.parametrize("ending", ["close", "exit"])
@pytest.mark.parametrize("player", ["aplay", "file-only paplay"])
@pytest.mark.parametrize(
    "synthesizer",
    [
        pytest.param("espeak-ng"),
        pytest.param("pyttsx3",
                     marks=pytest.mark.skipif(not PyttsxSynthesizer.check(), reason="pyttsx3 is not installed")),
    ],
)  # fmt: skip
def test_sentences_and_earcons_leave_nothing_after_shutdown(
    dirs: Dirs, synthesizer: str, player: str, ending: str, request
) -> None:
    pulse = request.getfixturevalue("pulse_server") if player.endswith("paplay") else ""
    env = {**os.environ, **dirs.env}
    with Poller(dirs):
        done = subprocess.run(
            [sys.executable, "-c", APP_SCRIPT, synthesizer, player, pulse, ending, SENTENCES],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Each file was gone as soon as it had been played, not only at shutdown.
    assert json.loads(done.stdout) == []
    assert dirs.files() == []
    assert dirs.our_folders() == []  # and no folder of ours either
    for path in dirs.sound_files_seen():  # a sound that had to be a file lived in the private folder only
        assert path.is_relative_to(dirs.run), path
    if player.startswith("file-only"):
        assert dirs.sound_files_seen(), "the scan should have seen the files while they played"


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.NoSuchProcess:  # a synthesizer run that ended meanwhile
        return ""


def _players(parent: psutil.Process | None = None) -> list[psutil.Process]:
    parent = parent or psutil.Process()
    return [p for p in parent.children(recursive=True) if _name(p) == "paplay"]


def test_a_sound_file_lives_in_one_private_folder_while_it_plays(dirs: Dirs, pulse_server: str) -> None:
    audio = CommandAudioOut(["paplay"], env={"PULSE_SERVER": pulse_server}, stdin=False)
    speaker = OwnVoiceSpeaker(audio)
    try:
        speaker.speak("This sentence is long enough to be still playing while the test looks at its file.")
        deadline = time.monotonic() + 20
        while not _players() and time.monotonic() < deadline:
            time.sleep(0.01)
        (player,) = _players()
        played = Path(player.cmdline()[-1])
        folder = played.parent
        info = os.lstat(folder)
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
        assert stat.S_IMODE(info.st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(played).st_mode) & 0o077 == 0
        assert folder.is_relative_to(dirs.run) and not folder.is_relative_to(dirs.tmp)
        speaker.stop()  # Stop still cuts it off at once, and the file goes with it
        assert not _players()
        assert speaker.wait_until_done(5)
        assert not played.exists()
    finally:
        speaker.close()


# -- leftovers of a crashed run are removed at the next start --------------------------------

SPEAKING_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from desktop_app.speech.audio_out import CommandAudioOut
    from desktop_app.speech.earcons import Earcon
    from desktop_app.speech.output import SpeechOutput, SpeechSettings
    audio = CommandAudioOut(["paplay"], env={"PULSE_SERVER": sys.argv[1]}, stdin=False)
    out = SpeechOutput(SpeechSettings(earcons=True), audio_out=audio, screen_reader=None)
    out.play(Earcon.ACCEPTED)
    out.speak("This is a long description of the screen that is still being spoken when the "
              "process is killed without any chance to clean up after itself.")
    print("speaking", flush=True)
    time.sleep(60)
    """
)


def _start_next_run(dirs: Dirs, tmp_path: Path) -> None:
    """The next start of Lookaloud: `lookaloud describe --speak`, as a user would run it."""
    result = describe_and_speak(picture(tmp_path), player_env(dirs, "aplay -q -D null", None))
    assert result.returncode == 0, result.stderr



def _start_speaking(dirs: Dirs, pulse_server: str) -> subprocess.Popen:
    """A Lookaloud speaking through the file-only player, once its sound file is there."""
    proc = subprocess.Popen([sys.executable, "-c", SPEAKING_SCRIPT, pulse_server], env={**os.environ, **dirs.env},
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    if proc.stdout is None or proc.stdout.readline().strip() != "speaking":
        proc.kill()
        proc.wait()
        raise AssertionError("the speaking Lookaloud did not start")
    deadline = time.monotonic() + 20
    while not dirs.files() and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def test_a_killed_speaking_process_leaves_nothing_after_the_next_start(
    dirs: Dirs, tmp_path: Path, pulse_server: str
) -> None:
    proc = _start_speaking(dirs, pulse_server)
    try:
        assert dirs.files(), "the file-only player should be playing a file"
        orphans = _players(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGKILL)  # a crash: no atexit, no shutdown
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for orphan in orphans:
        orphan.kill()
    assert dirs.files(), "a crash cannot clean up after itself"
    _start_next_run(dirs, tmp_path)
    assert dirs.files() == []
    assert dirs.our_folders() == []


def test_old_temporary_folders_are_removed_at_the_next_start_and_others_are_kept(
    dirs: Dirs, tmp_path: Path
) -> None:
    # Made the way the code before this change made them: tempfile.mkdtemp in $TMPDIR.
    old_speech = Path(tempfile.mkdtemp(prefix="lookaloud-speech-"))
    (old_speech / "sentence-0.wav").write_bytes(b"RIFF a description of the screen")
    old_earcons = Path(tempfile.mkdtemp(prefix="lookaloud-earcons-"))
    (old_earcons / "done-060.wav").write_bytes(b"RIFF")
    old_ocr = Path(tempfile.mkdtemp(prefix="lookaloud-ocr-"))  # a crash mid-read left a strip of the screen
    (old_ocr / "strip0.png").write_bytes(b"\x89PNG")
    not_ours = [Path(tempfile.mkdtemp(prefix=p)) for p in ("lookaloud-tests-", "other-app-", "lookaloud-ocrx-")]
    (not_ours[1] / "keep.wav").write_bytes(b"RIFF")
    _start_next_run(dirs, tmp_path)
    assert not old_speech.exists() and not old_earcons.exists() and not old_ocr.exists()
    assert all(p.exists() for p in not_ours)
    assert (not_ours[1] / "keep.wav").exists()


def test_the_next_start_keeps_a_running_lookaloud_s_sound(dirs: Dirs, tmp_path: Path, pulse_server: str) -> None:
    """Two Lookalouds at once (the CLI while the app runs): one never takes the other's sound."""
    proc = _start_speaking(dirs, pulse_server)
    try:
        playing = dirs.files()
        assert playing
        _start_next_run(dirs, tmp_path)
        assert proc.poll() is None
        # The running one's private folder is still there (its sentence may have ended).
        assert {p.parent for p in playing} <= set(dirs.our_folders())
    finally:
        for orphan in _players(psutil.Process(proc.pid)):
            orphan.kill()
        proc.kill()
        proc.wait()

