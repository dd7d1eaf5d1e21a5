"""What a description includes, as the Settings page promises it, through the real app: with
"Say the kind of picture" off, a screenshot's description neither guesses ("Probably ...") nor
names the kind; with it on, it does. Real tiny model, real inference thread, real OCR."""

from __future__ import annotations

from desktop_app.controller import State
from testkit.pictures import make_screenshot

GUESSES = ("Probably", "A screenshot", "A document")


def _describe(qtbot, app) -> str:
    qtbot.waitUntil(lambda: app.controller.state == State.IDLE, timeout=60000)
    picture = app.controller.describe_image(make_screenshot("Printer Settings").image, "window")
    # The same picture again is the same history entry, described again when settings changed:
    # its new description has come when nothing is left to do.
    qtbot.waitUntil(lambda: bool(picture.description) and app.controller.state == State.IDLE
                    and not app.controller._outstanding, timeout=60000)
    assert picture.picture_kind == "screenshot"
    assert "Printer Settings" in picture.description
    return picture.description


def test_with_the_kind_off_a_screenshot_is_not_guessed_at(qtbot, make_app):
    app = make_app(include_text=True, include_kind=False)
    description = _describe(qtbot, app)
    assert not description.startswith(GUESSES), description
    assert description in app.heard


def test_with_the_kind_on_a_screenshot_is_hedged_or_named(qtbot, make_app):
    app = make_app(include_text=True, include_kind=True)
    assert _describe(qtbot, app).startswith(GUESSES)


def test_turning_the_kind_off_in_settings_applies_to_the_next_picture(qtbot, make_app, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # Apply saves: not in the session's folder
    app = make_app(include_text=True, include_kind=True)
    assert _describe(qtbot, app).startswith(GUESSES)
    app.apply_settings(app.settings.update(include_kind=False))
    assert not _describe(qtbot, app).startswith(GUESSES)
