"""The controller's core, Qt-free: the pictures (history), the current picture, the requests
sent to the model and still outstanding, the state, and what the user hears at each change.

One `ControllerCore` lives on the GUI thread; nothing here is thread-safe or needs to be. It
never talks to the model itself: it hands each request to its `Listener` (`on_request`) and is
told the outcome (`result_ready`, `request_failed`, ...). The Qt adapter (controller.py) turns
the listener's calls into signals and the requests into queued calls to the inference worker.
The request and result records travel between the threads, so they are defined here.

What the user hears follows the current picture: a new picture cancels the work still going
on for older ones (a picture replaced before it was described leaves the history), a picture
with the same pixels as one in the history is that picture again (no duplicate entry, no
second description), and a result that arrives about a picture that is no longer the current
one is filed under its own picture and not spoken, so it never cuts off what the user is
hearing about the new one.
"""

from __future__ import annotations

import enum
import itertools
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from desktop_app.settings import Settings

DESCRIBE = "describe"
ASK = "ask"
READ_TEXT = "read_text"

NO_PICTURE = "There is no picture yet. Describe the screen or open a picture first."
NO_MODEL = "No model is set up yet. Open Settings or the setup to choose one."


class State(enum.Enum):
    """Where the controller is. LOADING -> IDLE <-> THINKING; NO_MODEL when none can run."""

    LOADING = "loading"
    NO_MODEL = "no model"
    IDLE = "idle"
    THINKING = "thinking"


@dataclass
class Request:
    """One piece of work for the model. Built on the GUI thread, read on the worker thread."""

    id: int
    kind: str  # DESCRIBE | ASK | READ_TEXT
    picture_id: int
    image: Any  # PIL.Image, RGB
    question: str = ""
    include_text: bool = True
    language: str = "en"
    include_kind: bool = True
    # A new picture replaces the requests that have not started yet.
    replaces_waiting: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class Result:
    """What the worker made of a request; built on the worker thread, read on the GUI thread."""

    request_id: int
    kind: str
    picture_id: int
    text: str  # what the user hears and reads
    caption: str = ""
    question: str = ""
    picture_kind: str = ""
    found_text: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)
    # When the caption was already said phrase by phrase (ControllerCore.phrase_ready): what is
    # left to say after it. None: `text` is said whole.
    continuation: str | None = None


@dataclass
class Picture:
    """A picture the user pointed at, with what was said about it."""

    id: int
    image: Any
    source: str  # "screen", "window", "region", "clipboard", a file name...
    description: str = ""
    conversation: list[tuple[str, str]] = field(default_factory=list)
    picture_kind: str = ""
    found_text: str = ""
    fingerprint: str = ""  # of the pixels: the same picture taken again is this one
    described_with: tuple[Any, ...] = ()  # the settings its description was made with


def fingerprint(image: Any) -> str:
    """A cheap digest of a picture's pixels, size and mode (a CRC: about 2 ms for a full-HD
    screen, where a cryptographic hash took 10-20 ms of the GUI thread). Equal for the same
    picture taken twice; a match is then checked pixel for pixel (same_pixels)."""
    tobytes = getattr(image, "tobytes", None)
    if tobytes is None:
        return f"object-{id(image)}"
    return f"{image.mode} {image.size} {zlib.crc32(tobytes()):08x}"


def same_pixels(one: Any, other: Any) -> bool:
    if one is other:
        return True
    if not (hasattr(one, "tobytes") and hasattr(other, "tobytes")):
        return False
    return bool(one.mode == other.mode and one.size == other.size and one.tobytes() == other.tobytes())


def _ignore(*_: object) -> None:
    pass


@dataclass
class Listener:
    """What the core tells the outside, one callable for each kind of news; each ignores it
    unless given. The Qt adapter gives its signals' `emit`; tests give lists' `append`."""

    on_state_changed: Callable[[State], None] = _ignore
    on_said: Callable[[str], None] = _ignore  # every sentence the user should hear, in order
    # Words that continue what was said last (the rest of a caption): queued after it, never cutting it off.
    on_said_more: Callable[[str], None] = _ignore
    on_error: Callable[[str], None] = _ignore
    on_model_ready: Callable[[str], None] = _ignore  # a sentence: which model on which device
    on_picture_added: Callable[[Picture], None] = _ignore  # now first in the history
    on_picture_removed: Callable[[Picture], None] = _ignore  # left the history
    on_picture_changed: Callable[[Picture], None] = _ignore  # its description or conversation
    on_current_changed: Callable[[Picture], None] = _ignore
    on_request: Callable[[Request], None] = _ignore  # to be run by the model


class ControllerCore:
    """The state machine between what the user asks for and the model. GUI thread only."""

    def __init__(self, settings: Settings, listener: Listener | None = None) -> None:
        self.settings = settings  # replaced whole when the user changes a setting
        self.listener = listener or Listener()
        self.pictures: list[Picture] = []  # newest first
        self.current: Picture | None = None
        self.state = State.NO_MODEL if not settings.model else State.LOADING
        self.load_percent = 0
        self.last_spoken = ""
        self.outstanding: dict[int, Request] = {}
        self._streaming: set[int] = set()  # requests whose first phrase has been said
        self._ids = itertools.count(1)

    # ---- the model --------------------------------------------------------------------------

    def begin_loading(self, model: str) -> bool:
        """Whether `model` is to be loaded now (LOADING); without one the state is NO_MODEL."""
        self._set_state(State.LOADING if model else State.NO_MODEL)
        return bool(model)

    def model_loading(self, percent: int) -> None:
        self.load_percent = percent

    def model_loaded(self, name: str, device: str, precision: str, note: str) -> None:
        where = {"cpu": "the processor", "cuda": "the graphics card", "mps": "the graphics card"}.get(device, device)
        if note:
            self.say(note)
        self.listener.on_model_ready(f"The model {name} is ready on {where}.")
        self._set_state(State.THINKING if self.outstanding else State.IDLE)

    def model_load_failed(self, message: str) -> None:
        self._set_state(State.NO_MODEL)
        for request_id in list(self.outstanding):
            self.forget(request_id)
        self.listener.on_error(message)
        self.say(message)

    # ---- what the user asks for -------------------------------------------------------------

    def describe_image(self, image: Any, source: str) -> Picture:
        """A new picture becomes the current one and is described; work still going on for
        older pictures is cancelled, and an older picture that was never described leaves the
        history (ten quick presses of Describe make one entry and one description).

        A picture with the same pixels as one in the history is that one again: it moves to
        the front and becomes current; its description is said again when it has one made with
        today's settings, and is still awaited (not asked for twice) when it is being made.

        The history keeps a bounded copy (vision.images.bounded_copy: at most what the text
        reader works on, far more than the vision model sees), never the full screenshot: eight
        8000 x 8000 pictures kept whole took 1.5 GB."""
        from PIL import Image

        from desktop_app.vision.images import bounded_copy

        if isinstance(image, Image.Image):
            image = bounded_copy(image)
        digest = fingerprint(image)
        picture = next((p for p in self.pictures if p.fingerprint == digest and same_pixels(p.image, image)), None)
        if picture is None:
            picture = Picture(next(self._ids), image, source, fingerprint=digest)
        self._supersede(keep=picture)
        if picture in self.pictures:
            self.pictures.remove(picture)
            self.listener.on_picture_removed(picture)
        self.pictures.insert(0, picture)
        limit = self.settings.history_size if self.settings.keep_history else 1
        for dropped in self.pictures[max(1, limit):]:
            self.listener.on_picture_removed(dropped)
        del self.pictures[max(1, limit):]
        self.current = picture
        self.listener.on_picture_added(picture)
        self.listener.on_current_changed(picture)
        wanted = self._describe_settings()
        pending = False
        for request_id, request in list(self.outstanding.items()):
            if request.picture_id == picture.id and request.kind == DESCRIBE:
                if self._describe_settings(request) == wanted:
                    pending = True
                else:  # made with settings changed since: the new ones count
                    request.cancel.set()
                    del self.outstanding[request_id]
        if pending:
            pass  # the same picture again while its description is being made: that one comes
        elif picture.description and picture.described_with == wanted:
            self._settle()
            self.say(picture.description)
        else:
            self._submit(self._request(DESCRIBE, picture))
        self._settle()
        return picture

    def _supersede(self, keep: Picture) -> None:
        """The user moved on to `keep`: cancel and forget the requests about other pictures
        (quietly: nothing was stopped by the user), and take out of the history the pictures
        whose description was still being made (replaced before they were described)."""
        replaced = set()
        for request_id, request in list(self.outstanding.items()):
            if request.picture_id != keep.id:
                request.cancel.set()
                del self.outstanding[request_id]
                if request.kind == DESCRIBE:
                    replaced.add(request.picture_id)
        for picture in [p for p in self.pictures if p.id in replaced and not p.description]:
            self.pictures.remove(picture)
            self.listener.on_picture_removed(picture)

    def ask(self, question: str, picture_id: int | None = None) -> bool:
        """Ask about the current picture, or about picture `picture_id`: the one that was current
        when the user began to ask (a spoken question arrives seconds later, maybe after another
        picture was taken). Its answer is filed under that picture and spoken only while it is
        still the current one."""
        question = " ".join(question.split())
        if not question:
            self.say("Type or say a question first.")
            return False
        picture = self.current if picture_id is None else self._picture(picture_id)
        if picture is None:
            self.say(NO_PICTURE if picture_id is None or self.current is None else
                     "The picture that question was about is no longer in the history, so it was not asked.")
            return False
        self._submit(self._request(ASK, picture, question=question))
        return True

    def read_text(self) -> bool:
        if self.current is None:
            self.say(NO_PICTURE)
            return False
        self._submit(self._request(READ_TEXT, self.current))
        return True

    def select_picture(self, picture_id: int) -> None:
        picture = self._picture(picture_id)
        if picture is not None:
            self.current = picture
            self.listener.on_current_changed(picture)
            self.say(f"Current picture: {picture.description or picture.source}")

    def stop(self) -> None:
        """Cancel what the model is doing and everything waiting."""
        for request in self.outstanding.values():
            request.cancel.set()

    def forget_pictures(self) -> None:
        """Settings' "Forget all pictures": cancel the work on them and empty the history, so no
        picture, description or conversation is kept in memory."""
        self.stop()
        self.outstanding.clear()
        self._streaming.clear()
        for picture in self.pictures:
            self.listener.on_picture_removed(picture)
        self.pictures.clear()
        self.current = None
        self.last_spoken = ""
        self._settle()

    def repeat_last(self) -> None:
        self.say(self.last_spoken or "Nothing has been said yet.")

    def say(self, text: str) -> None:
        self.last_spoken = text
        self.listener.on_said(text)

    # ---- what the model did -----------------------------------------------------------------

    def phrase_ready(self, request_id: int, text: str) -> None:
        """The next phrase of a description's caption, said while the model writes the rest:
        the first one cuts off what was being said, like any result; the others follow it."""
        request = self.outstanding.get(request_id)
        if request is None or request.cancel.is_set():
            return  # stale: cancelled or replaced meanwhile
        if self.current is None or request.picture_id != self.current.id:
            return  # about a picture the user has left: its result is filed, not said
        if request_id in self._streaming:
            self.listener.on_said_more(text)
        else:
            self._streaming.add(request_id)
            self.say(text)

    def result_ready(self, result: Result) -> None:
        request = self.outstanding.get(result.request_id)
        if request is None or request.picture_id != result.picture_id:
            return  # stale: cancelled or replaced meanwhile (or not the picture it was made for)
        if request.cancel.is_set():
            self.request_cancelled(result.request_id)  # finished just as the user stopped it
            return
        streamed = result.continuation is not None and result.request_id in self._streaming
        self.forget(result.request_id)
        picture = self._picture(result.picture_id)
        if picture is None:
            return  # dropped from the history meanwhile
        if result.kind == DESCRIBE:
            picture.description = result.text
            picture.picture_kind = result.picture_kind
            picture.found_text = result.found_text
            picture.described_with = self._describe_settings(request)
        elif result.kind == ASK:
            picture.conversation.append((result.question, result.text))
        else:
            picture.found_text = result.text
        self.listener.on_picture_changed(picture)
        if picture is not self.current:
            return  # filed under its own picture; said now it would cut off what the user hears
            # about the current one (the window's history shows it, choosing it says it).
        if streamed:  # its caption has been said phrase by phrase: say the rest after it
            self.last_spoken = result.text  # "repeat" says the whole description
            if result.continuation:
                self.listener.on_said_more(result.continuation)
            return
        self.say(result.text)

    def request_failed(self, request_id: int, message: str) -> None:
        if request_id not in self.outstanding:
            return
        self.forget(request_id)
        self.listener.on_error(message)
        self.say(message)

    def request_cancelled(self, request_id: int) -> None:
        was_waiting = request_id in self.outstanding
        self.forget(request_id)
        if was_waiting and not self.outstanding:
            self.say("Stopped.")

    def forget(self, request_id: int) -> None:
        """The request is over (done, failed, cancelled or skipped): back to IDLE after the last."""
        self.outstanding.pop(request_id, None)
        self._streaming.discard(request_id)
        if not self.outstanding and self.state == State.THINKING:
            self._set_state(State.IDLE)

    # ---- plumbing ---------------------------------------------------------------------------

    def _describe_settings(self, request: Request | None = None) -> tuple[Any, ...]:
        """What a description depends on besides the pixels: a change makes a new one."""
        if request is not None:
            return (request.include_text, request.include_kind, request.language)
        s = self.settings
        return (s.include_text, s.include_kind, s.language)

    def _settle(self) -> None:
        """Back to IDLE when no request is left (after quietly forgetting superseded ones)."""
        if not self.outstanding and self.state == State.THINKING:
            self._set_state(State.IDLE)

    def _request(self, kind: str, picture: Picture, question: str = "") -> Request:
        s = self.settings
        return Request(next(self._ids), kind, picture.id, picture.image, question, include_text=s.include_text,
                       language=s.language, include_kind=s.include_kind, replaces_waiting=kind == DESCRIBE)

    def _submit(self, request: Request) -> None:
        if self.state == State.NO_MODEL:
            self.say(NO_MODEL)
            return
        self.outstanding[request.id] = request
        if self.state == State.LOADING:
            self.say(f"Loading the model, {self.load_percent} percent. Your request will run when it is ready.")
        else:
            self._set_state(State.THINKING)
        self.listener.on_request(request)

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self.listener.on_state_changed(state)

    def _picture(self, picture_id: int) -> Picture | None:
        return next((p for p in self.pictures if p.id == picture_id), None)
