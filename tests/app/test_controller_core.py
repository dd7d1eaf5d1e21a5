"""The controller's core without Qt: pictures and history, the current picture, requests and
what becomes of them, the states, and every sentence the user hears at each step."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from desktop_app.core import ASK, DESCRIBE, READ_TEXT, ControllerCore, Listener, Request, Result, State
from desktop_app.settings import Settings


class Recorder(Listener):
    """Everything the core tells the outside, in order."""

    def __init__(self) -> None:
        self.said: list[str] = []
        self.states: list[State] = []
        self.errors: list[str] = []
        self.requests: list[Request] = []
        self.ready: list[str] = []
        super().__init__(on_said=self.said.append, on_state_changed=self.states.append, on_error=self.errors.append,
                         on_request=self.requests.append, on_model_ready=self.ready.append)


def _ready(**changes) -> tuple[ControllerCore, Recorder]:
    heard = Recorder()
    core = ControllerCore(Settings(model="tiny", **changes), heard)
    core.model_loaded("tiny", "cpu", "fp32", "")
    return core, heard


def _picture(colour=(200, 30, 30), size=(48, 40)) -> Image.Image:
    return Image.new("RGB", size, colour)


def _answer(request: Request, text: str) -> Result:
    return Result(request.id, request.kind, request.picture_id, text, question=request.question)


def test_the_core_runs_without_qt():
    code = "import sys, desktop_app.core, desktop_app.describer; print('PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"


def test_a_request_made_while_loading_waits_and_runs_when_the_model_is_ready():
    heard = Recorder()
    core = ControllerCore(Settings(model="tiny"), heard)
    assert core.state == State.LOADING
    core.model_loading(40)
    picture = core.describe_image(_picture(), "screen")
    assert heard.said == ["Loading the model, 40 percent. Your request will run when it is ready."]
    (request,) = heard.requests
    assert request.kind == DESCRIBE and request.picture_id == picture.id and request.replaces_waiting
    core.model_loaded("tiny", "cuda", "bf16", "")
    assert heard.ready == ["The model tiny is ready on the graphics card."]
    assert core.state == State.THINKING
    core.result_ready(_answer(request, "A red square."))
    assert picture.description == "A red square." and heard.said[-1] == "A red square."
    assert core.state == State.IDLE and not core.outstanding
    assert heard.states == [State.THINKING, State.IDLE]


def test_without_a_model_nothing_is_sent_and_the_user_is_told_how_to_get_one():
    heard = Recorder()
    core = ControllerCore(Settings(model=""), heard)
    assert core.state == State.NO_MODEL and not core.begin_loading("")
    core.describe_image(_picture(), "screen")
    assert heard.requests == [] and not core.outstanding
    assert heard.said == ["No model is set up yet. Open Settings or the setup to choose one."]


def test_a_failed_load_drops_the_waiting_requests_and_says_why():
    heard = Recorder()
    core = ControllerCore(Settings(model="tiny"), heard)
    core.describe_image(_picture(), "screen")
    core.model_load_failed("The model could not be loaded: no weights.")
    assert core.state == State.NO_MODEL and not core.outstanding
    assert heard.errors == ["The model could not be loaded: no weights."]
    assert heard.said[-1] == "The model could not be loaded: no weights."


def test_questions_and_reading_need_a_picture_and_a_question():
    core, heard = _ready()
    assert not core.ask("what colour?") and not core.read_text()
    assert heard.said == ["There is no picture yet. Describe the screen or open a picture first."] * 2
    core.describe_image(_picture(), "screen")
    assert not core.ask("   ")
    assert heard.said[-1] == "Type or say a question first."
    assert core.ask("  what   colour? ") and core.read_text()
    ask, read = heard.requests[1:]
    assert (ask.kind, ask.question, ask.replaces_waiting) == (ASK, "what colour?", False)
    assert read.kind == READ_TEXT


def test_stop_cancels_everything_and_late_results_are_dropped():
    core, heard = _ready()
    picture = core.describe_image(_picture(), "screen")
    core.ask("what colour?")
    core.stop()
    assert all(r.cancel.is_set() for r in heard.requests)
    describe, ask = heard.requests
    core.request_cancelled(describe.id)
    core.request_cancelled(ask.id)
    assert heard.said == ["Stopped."] and core.state == State.IDLE
    core.result_ready(_answer(describe, "Too late."))  # finished just as it was cancelled
    assert picture.description == "" and "Too late." not in heard.said


def test_a_failure_is_said_once_and_a_replaced_request_is_forgotten_quietly():
    core, heard = _ready()
    core.describe_image(_picture((200, 0, 0)), "first")
    core.describe_image(_picture((0, 200, 0)), "second")
    first, second = heard.requests
    assert first.cancel.is_set() and first.id not in core.outstanding  # replaced: cancelled
    core.forget(first.id)  # skipped by the worker: replaced before it started
    core.request_cancelled(first.id)
    assert core.state == State.THINKING and heard.said == []
    core.request_failed(second.id, "Something went wrong while looking at the picture: boom")
    core.request_failed(second.id, "Something went wrong while looking at the picture: boom")
    assert heard.said == heard.errors == ["Something went wrong while looking at the picture: boom"]
    assert core.state == State.IDLE


def test_the_history_is_bounded_and_keeps_bounded_copies():
    core, heard = _ready(history_size=3)
    pictures = []
    for i in range(5):
        pictures.append(core.describe_image(_picture((i, 0, 0)), f"p{i}"))
        core.result_ready(_answer(heard.requests[-1], f"Picture {i}."))
    assert core.pictures == pictures[:1:-1] and core.current is pictures[-1]
    core.select_picture(pictures[2].id)
    core.ask("what colour?")
    core.describe_image(_picture((9, 0, 0)), "p5")  # p2 leaves the history
    core.result_ready(_answer(heard.requests[-2], "Gone."))
    assert "Gone." not in heard.said and pictures[2] not in core.pictures
    big = core.describe_image(_picture(size=(4000, 3000)), "big")
    assert big.image.width * big.image.height <= 9_000_000 and big.image.width < 4000
    core.settings = core.settings.update(keep_history=False)
    core.describe_image(_picture(), "alone")
    assert len(core.pictures) == 1


def test_choosing_a_picture_from_the_history_makes_it_current_and_says_it():
    core, heard = _ready()
    first = core.describe_image(_picture(), "first")
    core.result_ready(_answer(heard.requests[0], "A red square."))
    core.describe_image(_picture(), "second")
    core.select_picture(first.id)
    assert core.current is first and heard.said[-1] == "Current picture: A red square."
    core.ask("what colour?")
    assert heard.requests[-1].picture_id == first.id
    core.result_ready(_answer(heard.requests[-1], "Red."))
    assert first.conversation == [("what colour?", "Red.")]
    core.repeat_last()
    assert heard.said[-2:] == ["Red.", "Red."]


def test_changed_settings_shape_the_next_request():
    core, heard = _ready()
    core.describe_image(_picture(), "before")
    core.settings = core.settings.update(include_text=False, include_kind=False, language="de")
    core.describe_image(_picture(), "after")
    before, after = heard.requests
    assert (before.include_text, before.include_kind, before.language) == (True, True, "en")
    assert (after.include_text, after.include_kind, after.language) == (False, False, "de")


def test_every_state_is_one_the_core_enters():
    heard = Recorder()
    core = ControllerCore(Settings(model="tiny"), heard)
    entered = {core.state}
    core.model_loaded("tiny", "cpu", "fp32", "A note.")
    core.describe_image(_picture(), "screen")
    core.model_load_failed("Broken.")
    entered |= set(heard.states)
    assert entered == set(State)


# ---- issue 13: one description per picture, results that follow the current picture -------


def test_quick_presses_on_changing_pictures_leave_one_entry_and_one_description():
    """Ten presses of Describe before the first description came: the nine pictures replaced
    before they were described leave the history, their work is cancelled, one is heard."""
    core, heard = _ready()
    removed = []
    heard.on_picture_removed = removed.append
    pictures = [core.describe_image(_picture((i * 20, 0, 0)), "screen") for i in range(10)]
    assert core.pictures == [pictures[-1]] and removed == pictures[:-1]
    assert all(r.cancel.is_set() for r in heard.requests[:-1]) and list(core.outstanding) == [heard.requests[-1].id]
    for request in heard.requests:  # the worker finishes them anyway, or reports them cancelled
        core.result_ready(_answer(request, f"Picture {request.picture_id}."))
    assert heard.said == [f"Picture {pictures[-1].id}."]
    assert heard.states == [State.IDLE, State.THINKING, State.IDLE]  # loaded; no "done" between presses


def test_the_same_picture_again_is_no_new_entry_and_no_second_description():
    core, heard = _ready()
    first = core.describe_image(_picture(), "screen")
    for _ in range(9):  # pressed again while it is being described: that description comes
        assert core.describe_image(_picture(), "screen") is first
    assert len(heard.requests) == 1 and core.pictures == [first]
    core.result_ready(_answer(heard.requests[0], "A red square."))
    other = core.describe_image(_picture((0, 0, 200)), "window")
    core.result_ready(_answer(heard.requests[-1], "A blue square."))
    assert core.describe_image(_picture(), "screen") is first  # described: said again, not remade
    assert core.pictures == [first, other] and core.current is first
    assert heard.said == ["A red square.", "A blue square.", "A red square."] and len(heard.requests) == 2
    core.settings = core.settings.update(include_text=False)
    core.describe_image(_picture(), "screen")  # other settings: described again, still one entry
    assert len(heard.requests) == 3 and heard.requests[-1].picture_id == first.id and len(core.pictures) == 2


def test_an_answer_about_an_earlier_picture_is_filed_under_it_and_not_spoken():
    core, heard = _ready()
    first = core.describe_image(_picture(), "screen")
    core.result_ready(_answer(heard.requests[-1], "A red square."))
    asked_about = core.current.id  # the user began to ask aloud about the red square...
    second = core.describe_image(_picture((0, 0, 200)), "window")  # ...and took another picture
    assert core.ask("how many squares?", asked_about)  # the spoken question arrives now
    describe, ask = heard.requests[-2:]
    assert (describe.picture_id, ask.picture_id) == (second.id, first.id)
    core.result_ready(_answer(describe, "A blue window."))
    core.result_ready(_answer(ask, "One."))
    assert first.conversation == [("how many squares?", "One.")] and second.conversation == []
    assert heard.said[-1] == "A blue window."  # "One." never cut it off
    assert core.state == State.IDLE


def test_a_new_picture_cancels_the_answer_still_coming_for_the_old_one():
    core, heard = _ready()
    first = core.describe_image(_picture(), "screen")
    core.result_ready(_answer(heard.requests[-1], "A red square."))
    core.ask("what colour?")
    ask = heard.requests[-1]
    second = core.describe_image(_picture((0, 0, 200)), "window")
    assert ask.cancel.is_set()
    core.result_ready(_answer(ask, "Two."))  # it finished just before it saw the cancel
    core.result_ready(_answer(heard.requests[-1], "A blue window."))
    assert first.conversation == [] and second.conversation == []
    assert "Two." not in heard.said and heard.said[-1] == "A blue window."


def test_a_result_that_finished_as_the_user_stopped_is_not_said():
    core, heard = _ready()
    picture = core.describe_image(_picture(), "screen")
    core.stop()
    core.result_ready(_answer(heard.requests[-1], "Too late."))
    assert picture.description == "" and heard.said == ["Stopped."] and core.state == State.IDLE


def test_pictures_one_pixel_apart_are_two_pictures():
    core, heard = _ready()
    first = core.describe_image(_picture(), "screen")
    core.result_ready(_answer(heard.requests[-1], "A red square."))
    changed = _picture()
    changed.putpixel((47, 39), (201, 30, 30))
    second = core.describe_image(changed, "screen")
    assert second is not first and core.pictures == [second, first] and len(heard.requests) == 2


def test_forgetting_all_pictures_empties_the_history_and_drops_late_results():
    removed = []
    core, heard = _ready()
    core.listener.on_picture_removed = removed.append
    first = core.describe_image(_picture(), "screen")
    core.result_ready(_answer(heard.requests[-1], "A red square."))
    second = core.describe_image(_picture((0, 0, 200)), "window")
    coming = heard.requests[-1]
    core.forget_pictures()
    assert core.pictures == [] and core.current is None and {p.id for p in removed} >= {first.id, second.id}
    core.result_ready(_answer(coming, "A blue window."))  # finished after the user forgot it
    assert "A blue window." not in heard.said and core.pictures == []
    core.repeat_last()
    assert heard.said[-1] == "Nothing has been said yet."  # not the forgotten description
    assert core.state == State.IDLE
