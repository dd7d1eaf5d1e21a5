"""What `pip install lookaloud` gives a user, outside this checkout: the wheel carries the
resources (demo model, earcons, icon) and nothing of the tests or the test kit, and the
installed copy finds and uses them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testkit import demo_scenes as ds

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the tracked files, so no build/ folder from an earlier build can
    # slip files in, and the checkout stays as it was.
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    source = out / "source"
    for name in files:
        path = REPO / name
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            (source / name).symlink_to(os.readlink(path))
        elif path.is_file():
            shutil.copy2(path, source / name)
    # No build isolation: the dev environment has setuptools, and no network is needed.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(source)], check=True, timeout=300, capture_output=True)
    return next(out.glob("lookaloud-*.whl"))


def test_the_wheel_carries_the_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("desktop_app/resources/models/shapes-demo/model.safetensors",
                   "desktop_app/resources/models/shapes-demo/config.json",
                   "desktop_app/resources/models/shapes-demo-search/model.safetensors",  # search with no download
                   "desktop_app/resources/earcons/done.wav",
                   "desktop_app/resources/icons/lookaloud.svg"):
        assert needed in names


def test_the_wheel_carries_no_test_code(wheel: Path) -> None:
    """The test kit (testkit/), the tests, tools and benchmarks stay in the checkout."""
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops <= {"desktop_app"} | {t for t in tops if t.endswith(".dist-info")}, sorted(tops)
    assert not [n for n in names if "demo_scenes" in n or "tiny_models" in n or "fakehub" in n], names


def test_an_installed_copy_describes_with_the_demo_model(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                    str(target), str(wheel)], check=True, timeout=300, capture_output=True)
    picture = tmp_path / "scene.png"
    scene = ds.compose([("green", "triangle")], background="white", seed=31)
    scene.render().save(picture)
    # Run from elsewhere with the installed copy first on the path (the dependencies come from
    # this environment); the child reports where it found the package and its resources.
    env = {**os.environ, "PYTHONPATH": str(target), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", ("import desktop_app.paths as p; print(p.__file__); "
                            "print(p.RESOURCES_DIR)")], cwd=tmp_path, env=env, capture_output=True, text=True,
                           check=True, timeout=60).stdout.split()
    assert all(Path(w).resolve().is_relative_to(target.resolve()) for w in where), where
    result = subprocess.run([sys.executable, "-m", "desktop_app", "describe", str(picture), "--model", "shapes-demo",
                             "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stderr
    caption = json.loads(result.stdout)["caption"]
    assert caption.lower().rstrip(".") == scene.caption()
