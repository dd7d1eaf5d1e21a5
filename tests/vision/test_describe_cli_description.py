"""`lookaloud describe` says what the app says: the composed description (caption, kind, the
text found), with `--no-text` and `--no-kind` as the app's two description settings, and the
JSON keeping `caption` as it was next to the new `kind`, `text` and `description`."""

from __future__ import annotations

import json

import pytest

from testkit.pictures import make_screenshot
from tests.vision.test_describe_cli import lookaloud

GUESSES = ("Probably", "A screenshot", "A document")


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    path = tmp_path_factory.mktemp("window") / "printer.png"
    make_screenshot("Printer Settings").image.save(path)
    return str(path)


def _json(tiny_model_dirs, window, *flags: str) -> dict:
    result = lookaloud("describe", window, "--json", "--model", str(tiny_model_dirs["blip2-opt"]),
                       "--precision", "fp32", *flags)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    return json.loads(line)


def test_the_description_leads_with_the_text_found_like_the_app(tiny_model_dirs, window):
    line = _json(tiny_model_dirs, window)
    assert line["kind"] == "screenshot"
    assert "Printer Settings" in line["text"]
    assert "Printer Settings" in line["description"] and line["description"].startswith(GUESSES)
    assert line["caption"][0].isupper() and line["caption"].endswith(".")


def test_no_kind_drops_the_guess(tiny_model_dirs, window):
    line = _json(tiny_model_dirs, window, "--no-kind")
    assert "Printer Settings" in line["description"]
    assert not line["description"].startswith(GUESSES), line["description"]


def test_no_text_describes_by_the_caption_alone(tiny_model_dirs, window):
    line = _json(tiny_model_dirs, window, "--no-text")
    assert line["description"] == line["caption"]
    assert line["kind"] == "" and line["text"] == ""


def test_plain_output_prints_the_description(tiny_model_dirs, window):
    result = lookaloud("describe", window, "--model", str(tiny_model_dirs["blip2-opt"]), "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(window + ": ") and "Printer Settings" in line


def test_text_that_cannot_be_read_is_said_and_the_caption_still_describes(tiny_model_dirs, window):
    result = lookaloud("describe", window, "--json", "--language", "zz", "--model", str(tiny_model_dirs["blip2-opt"]),
                       "--precision", "fp32")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "cannot read zz text" in result.stderr
    line = json.loads(result.stdout)
    assert line["description"] == line["caption"] and line["text"] == ""
