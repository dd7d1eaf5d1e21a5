"""A real screen reader session for tests: PulseAudio with a null sink that can be recorded,
speech-dispatcher speaking to it with espeak-ng, and Debian's real Orca, all private to the test
(own runtime folder, own session D-Bus, the test's AT-SPI bus and display).

- `SoundServer` starts PulseAudio (`-n`: no user or system configuration) with one null sink,
  and records that sink's monitor with `parecord`, as a microphone next to the speakers would.
- `SpeechServer` starts speech-dispatcher on its own socket; clients find it by
  SPEECHD_ADDRESS (Orca's Python client and libspeechd, which prism loads, both read it).
- `Orca` starts `orca --replace` with a debug file, whose "SPEECH OUTPUT" lines say what
  Orca itself spoke and when.
- `SpeechRelay` stands between one client (Lookaloud) and speech-dispatcher on a socket of its
  own, passing everything through and noting what the client asked it to say (SSIP SPEAK).
- `heard(wav)` transcribes a recording with Lookaloud's own Whisper (tiny.en, bundled).

`missing()` says what is not installed, so a test can skip with that reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import wave
from pathlib import Path

from testkit.processes import stop_process

SINK = "heard"
APT_PACKAGES = "orca speech-dispatcher speech-dispatcher-espeak-ng pulseaudio pulseaudio-utils"


def missing() -> str | None:
    """Why a real Orca session cannot run here, or None when it can."""
    tools = ["orca", "speech-dispatcher", "pulseaudio", "parecord", "pactl", "dbus-daemon"]
    absent = [t for t in tools if shutil.which(t) is None]
    if not any(Path("/usr/lib").glob("**/speech-dispatcher-modules/sd_espeak-ng")):
        absent.append("speech-dispatcher-espeak-ng")
    if absent:
        return f"needs {', '.join(absent)} (apt-get install {APT_PACKAGES})"
    return None


def _wait_for(path: Path, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            raise AssertionError(f"{what} did not start")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen | None) -> None:
    stop_process(proc, timeout=10)


class SoundServer:
    """PulseAudio with only a null sink, on a socket in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.socket = folder / "pulse" / "native"
        (folder / "pulse").mkdir(parents=True, exist_ok=True)
        # Its own server only: nothing inherited may point it at another test's sound server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
        env.update({"XDG_RUNTIME_DIR": str(folder), "HOME": str(folder), "PULSE_RUNTIME_PATH": str(folder / "pulse"),
                    # Off the session bus: another PulseAudio of the same test run (tests/speech's
                    # own sound server) holds org.PulseAudio1 there, and this one would exit.
                    "DBUS_SESSION_BUS_ADDRESS": f"unix:path={folder / 'no-bus'}"})
        for attempt in (1, 2):  # once more if it exits at once
            self.proc = subprocess.Popen(
                ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
                 "--disable-shm=yes", f"--load=module-native-protocol-unix socket={self.socket} auth-anonymous=1",
                 f"--load=module-null-sink sink_name={SINK} rate=16000 channels=1"],
                env=env, stdout=subprocess.DEVNULL, stderr=open(folder / f"pulseaudio-{attempt}.log", "w"),  # noqa: SIM115
            )
            try:
                _wait_for(self.socket, 20, "PulseAudio", self.proc)
                break
            except AssertionError:
                if attempt == 2:
                    log = (folder / f"pulseaudio-{attempt}.log").read_text(errors="replace")[-500:]
                    raise AssertionError(f"PulseAudio did not start: {log}") from None
                time.sleep(1)
        self.env = {"PULSE_SERVER": f"unix:{self.socket}", "PULSE_SINK": SINK}
        subprocess.run(["pactl", "set-default-sink", SINK], env={**os.environ, **self.env}, check=True, timeout=20)
        self._recorder: subprocess.Popen | None = None
        self.recording: Path | None = None

    def start_recording(self, path: Path) -> None:
        self.recording = path
        self._recorder = subprocess.Popen(
            ["parecord", "-d", f"{SINK}.monitor", "--rate=16000", "--channels=1", "--format=s16le",
             "--file-format=wav", str(path)],
            env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop_recording(self) -> Path:
        assert self._recorder is not None and self.recording is not None
        _stop(self._recorder)  # parecord writes the WAV header's sizes when it ends on SIGTERM
        self._recorder = None
        return self.recording

    def close(self) -> None:
        _stop(self._recorder)
        _stop(self.proc)


class SpeechServer:
    """speech-dispatcher speaking through `sound` with espeak-ng, on its own socket."""

    def __init__(self, folder: Path, sound: SoundServer) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.socket = folder / "speechd.sock"
        env = {**os.environ, **sound.env, "XDG_RUNTIME_DIR": str(sound.folder), "HOME": str(folder)}
        self.proc = subprocess.Popen(
            ["speech-dispatcher", "--run-single", "--socket-path", str(self.socket), "--timeout", "0",
             "--pid-file", str(folder / "speechd.pid"), "--log-dir", str(folder)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(folder / "speechd.err", "w"),  # noqa: SIM115
        )
        _wait_for(self.socket, 20, "speech-dispatcher", self.proc)
        self.env = {"SPEECHD_ADDRESS": f"unix_socket:{self.socket}"}

    def close(self) -> None:
        _stop(self.proc)


class SpeechRelay:
    """A socket that passes SSIP through to `speech`, noting each text its clients send to be
    spoken: give a client `env` and `said()` is what it made speech-dispatcher say."""

    def __init__(self, folder: Path, speech: SpeechServer) -> None:
        import socket
        import threading

        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "relay.sock"
        self._target = str(speech.socket)
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(self.path))
        self._server.listen(8)
        self._sent = bytearray()
        self._lock = threading.Lock()
        self.env = {"SPEECHD_ADDRESS": f"unix_socket:{self.path}"}
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._target)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source, target, note: bool) -> None:  # type: ignore[no-untyped-def]
        try:
            while data := source.recv(65536):
                if note:
                    with self._lock:
                        self._sent.extend(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.close()
                except OSError:
                    pass

    def said(self) -> list[str]:
        """The texts clients sent after SSIP SPEAK, in order."""
        with self._lock:
            text = self._sent.decode("utf-8", errors="replace")
        return [m.strip() for m in re.findall(r"(?im)^SPEAK\r?\n(.*?)\r?\n\.\r?\n", text, re.DOTALL)]

    def close(self) -> None:
        self._server.close()


def start_session_bus(folder: Path) -> tuple[subprocess.Popen, str]:
    """A private session D-Bus (Orca's settings and, from Orca 49, its remote controller)."""
    address = f"unix:path={folder / 'session-bus'}"
    proc = subprocess.Popen(["dbus-daemon", "--session", "--nofork", f"--address={address}", "--print-address=1"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    if not proc.stdout.readline().strip():
        _stop(proc)
        raise AssertionError("dbus-daemon did not start a session bus")
    return proc, address


class Orca:
    """Debian's real Orca, speaking through `speech` and reading the AT-SPI bus `a11y_bus`."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.debug_file = folder / "orca-debug.txt"
        self.env = {**os.environ, **env, "HOME": str(folder), "XDG_CONFIG_HOME": str(folder / "config"),
                    "XDG_DATA_HOME": str(folder / "data"), "GTK_USE_PORTAL": "0"}
        self.proc = subprocess.Popen(["orca", "--replace", f"--debug-file={self.debug_file}"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=open(folder / "orca.err", "w"))  # noqa: SIM115

    def version(self) -> str:
        out = subprocess.run(["orca", "--version"], check=False, capture_output=True, text=True, timeout=30, env=self.env)
        return out.stdout.strip()

    def spoken(self) -> list[str]:
        """What Orca itself has spoken so far, in order (its debug file's SPEECH OUTPUT lines)."""
        if not self.debug_file.exists():
            return []
        text = self.debug_file.read_text(errors="replace")
        return re.findall(r"SPEECH OUTPUT: '(.*?)'(?:\{|$)", text, re.MULTILINE)

    def spoken_since(self, since: str) -> list[str]:
        """What Orca spoke at or after the clock time `since` ("HH:MM:SS.ffffff", as
        time.strftime("%H:%M:%S") + fraction gives it): by the debug file's own timestamps, as
        Orca writes its file a while after it speaks."""
        if not self.debug_file.exists():
            return []
        text = self.debug_file.read_text(errors="replace")
        return [said for at, said in re.findall(r"^(\d\d:\d\d:\d\d\.\d+) - SPEECH OUTPUT: '(.*?)'(?:\{|$)",
                                                text, re.MULTILINE) if at >= since]

    def wait_until_quiet(self, quiet: float = 2.0, timeout: float = 30) -> None:
        """Until Orca's debug file has had no new speech for `quiet` seconds: it is written a
        moment after Orca speaks, so a count taken at once can miss what it just said."""
        deadline = time.monotonic() + timeout
        count, since = len(self.spoken()), time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - since < quiet:
            time.sleep(0.25)
            now = len(self.spoken())
            if now != count:
                count, since = now, time.monotonic()

    def wait_until_speaking(self, timeout: float = 90) -> None:
        """Orca says its welcome ("Screen reader on.") once it runs; wait for that."""
        deadline = time.monotonic() + timeout
        while not self.spoken():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError("Orca did not start speaking; see " + str(self.debug_file))
            time.sleep(0.25)

    def close(self) -> None:
        # Orca takes its time over SIGTERM (about 10 s here); it keeps nothing a test needs.
        self.proc.kill()
        self.proc.wait(timeout=10)


def duration(wav_path: Path) -> float:
    with wave.open(str(wav_path)) as w:
        return w.getnframes() / w.getframerate()


def heard(wav_path: Path) -> str:
    """The words in a recording, by Lookaloud's own Whisper (lower case, no punctuation)."""
    from desktop_app.speech.stt import Transcriber

    text = Transcriber().transcribe(wav_path, trim_silence=True).text
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())
