"""The controller's core with a streamed caption: the first phrase is said like a result (cutting
off what was being said), the others and the rest of the description follow it, the history
keeps the whole description, and phrases of a stale request are never heard."""

from __future__ import annotations

from PIL import Image

from desktop_app.core import DESCRIBE, ControllerCore, Listener, Request, Result, State
from desktop_app.settings import Settings


class Recorder(Listener):
    """What the core tells the outside, in order: ("say", text) cuts off, ("more", text) follows."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, str]] = []
        self.requests: list[Request] = []
        super().__init__(on_said=lambda t: self.heard.append(("say", t)),
                         on_said_more=lambda t: self.heard.append(("more", t)), on_request=self.requests.append)


def _ready() -> tuple[ControllerCore, Recorder]:
    heard = Recorder()
    core = ControllerCore(Settings(model="tiny"), heard)
    core.model_loaded("tiny", "cpu", "fp32", "")
    heard.heard.clear()
    return core, heard


def _description(request: Request, text: str, continuation: str | None) -> Result:
    return Result(request.id, DESCRIBE, request.picture_id, text, caption="A red circle.", continuation=continuation)


def test_phrases_then_the_rest_are_heard_once_in_order():
    core, heard = _ready()
    picture = core.describe_image(Image.new("RGB", (40, 30), "red"), "screen")
    request = heard.requests[-1]
    core.phrase_ready(request.id, "A red circle,")
    core.phrase_ready(request.id, "a blue square.")
    assert picture.description == "" and core.state == State.THINKING
    full = "A red circle, a blue square. The title is: Shapes. It says: stop."
    core.result_ready(_description(request, full, "The title is: Shapes. It says: stop."))
    assert heard.heard == [("say", "A red circle,"), ("more", "a blue square."),
                           ("more", "The title is: Shapes. It says: stop.")]
    assert picture.description == full and core.last_spoken == full
    assert core.state == State.IDLE


def test_nothing_left_to_say_after_the_caption_says_nothing_more():
    core, heard = _ready()
    picture = core.describe_image(Image.new("RGB", (40, 30), "red"), "screen")
    request = heard.requests[-1]
    core.phrase_ready(request.id, "A red circle.")
    core.result_ready(_description(request, "A red circle.", ""))
    assert heard.heard == [("say", "A red circle.")]
    assert picture.description == "A red circle."


def test_a_result_without_phrases_is_said_whole():
    core, heard = _ready()
    core.describe_image(Image.new("RGB", (40, 30), "red"), "screen")
    request = heard.requests[-1]
    core.result_ready(_description(request, "A picture.", None))
    assert heard.heard == [("say", "A picture.")]


def test_phrases_of_a_stopped_request_are_not_heard():
    core, heard = _ready()
    picture = core.describe_image(Image.new("RGB", (40, 30), "red"), "screen")
    request = heard.requests[-1]
    core.phrase_ready(request.id, "A red circle,")
    core.stop()
    core.request_cancelled(request.id)
    core.phrase_ready(request.id, "a blue square")  # already queued when Stop came
    core.result_ready(_description(request, "A red circle, a blue square.", ""))
    assert heard.heard == [("say", "A red circle,"), ("say", "Stopped.")]
    assert picture.description == ""
