"""The first-run model setup dialog: owns choosing the picture-description model.

It lists the catalog models with their download size, the memory they need at this machine's
precision, whether that fits this machine (RAM, GPU memory) and a rough expected speed, and
recommends one. The user then downloads one (on a worker thread, with progress shown and
announced, cancel, and resume after a failure or a restart), points at a folder they already
have, or tries the demo model. Nothing is downloaded until the user presses Download: there is
no default button, so Enter on the model list only says how to download the model it names
(a blind user presses Enter on a list item to choose it, and must not start a 3 GB download by
that), while Enter on a focused button presses that button.

What the dialog says (progress, errors, the hint) goes to `say`, the app's own speech path
(its voice or the user's screen reader, LookaloudApp._say_now), and is shown in the status
line: Orca 43 ignores Qt's accessibility announcements, so an error only announced that way
was shown but never heard. Without `say` (a dialog on its own) it is announced.

Downloads use desktop_app.models.hub.download_model, the same code as
`lookaloud models download`. The pure parts (Machine, assess, recommend) are Qt-free.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.models import vision_catalog as catalog
from desktop_app.models.hub import DownloadError, DownloadProgress, download_model, format_progress
from desktop_app.models.vision_catalog import CATALOG, DEFAULT_MODEL, DEMO_MODEL, ModelSpec, UnknownModelError
from desktop_app.ui.announce import Announcer
from desktop_app.ui.sizing import fitting_width
from desktop_app.workers.lifetime import WorkerThread

# Rough seconds per billion parameters for one description (encode + about 20 tokens).
# CPU figures come from the timings in NOTES.md (blip2-opt-2.7b size: 10-16 s in bf16 on a
# 2-core machine, fp32 about twice as slow; int8 0.64-0.93x and int4 0.87-0.96x of bf16 for a whole
# caption in docs/benchmarks.md); the GPU figure is a conservative guess.
_SECONDS_PER_BILLION = {"cuda": 0.4, "bf16": 3.2, "fp32": 6.4, "int8": 2.6, "int4": 2.9}
# Leave a quarter of RAM for the system and the rest of the app (the loader's auto rule uses the same share).
_RAM_SHARE = 0.75


@dataclass(frozen=True)
class Machine:
    """What this computer offers a model."""

    ram_gb: float
    gpu_name: str = ""
    gpu_gb: float = 0.0
    native_bf16: bool = False
    gpu_bf16: bool = False  # the GPU computes bf16

    @property
    def device(self) -> str:
        return "cuda" if self.gpu_gb > 0 else "cpu"

    def precision_for(self, spec: catalog.ModelSpec) -> str:
        """What the loader's "auto" will choose here for this model (int8 for a large one on a
        processor, int4 where int8 would not fit this computer's memory)."""
        from desktop_app.vision.loader import LARGE_MODEL_BYTES, best_precision

        large = spec.download_mb * 1_000_000 >= LARGE_MODEL_BYTES
        return best_precision(self.device, gpu_bf16=self.gpu_bf16, cpu_bf16=self.native_bf16, large=large,
                              ram_gb=self.ram_gb, need_int8_gb=spec.memory_gb("int8"))


def detect_machine() -> Machine:
    """RAM from psutil, GPU memory from torch.cuda when a CUDA GPU is usable."""
    import psutil

    from desktop_app.vision.loader import cpu_has_native_bf16

    ram = psutil.virtual_memory().total / 1e9
    gpu_name, gpu_gb, gpu_bf16 = "", 0.0, False
    try:
        import torch

        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            gpu_name, gpu_gb = props.name, props.total_memory / 1e9
            gpu_bf16 = bool(torch.cuda.is_bf16_supported())
    except Exception:  # noqa: BLE001 - a broken CUDA setup means "no GPU" here
        gpu_name, gpu_gb, gpu_bf16 = "", 0.0, False
    return Machine(round(ram, 1), gpu_name, round(gpu_gb, 1), cpu_has_native_bf16(), gpu_bf16)


@dataclass(frozen=True)
class ModelFit:
    """How one model suits a machine."""

    spec: ModelSpec
    memory_gb: float
    fits: bool
    seconds: int  # estimated seconds per description
    machine: Machine

    def sentence(self, recommended: bool = False) -> str:
        size = f"{self.spec.download_mb / 1000:.1f} gigabytes" if self.spec.download_mb >= 1000 else \
            f"{self.spec.download_mb} megabytes"
        where = "graphics card" if self.machine.device == "cuda" else "computer"
        room = self.machine.gpu_gb if self.machine.device == "cuda" else self.machine.ram_gb
        fit = (f"Fits this {where}'s {room:g} gigabytes." if self.fits
               else f"Too big for this {where}'s {room:g} gigabytes.")
        first = f"{self.spec.name}{', recommended' if recommended else ''}: {self.spec.label}"
        return (f"{first} Download {size}. Needs {self.memory_gb:g} gigabytes of memory. {fit} "
                f"About {self.seconds} second{'s' if self.seconds != 1 else ''} per description "
                "on this computer (an estimate).")


def assess(spec: ModelSpec, machine: Machine) -> ModelFit:
    precision = machine.precision_for(spec)
    memory = spec.memory_gb(precision)
    if machine.device == "cuda":
        fits, per_billion = memory <= machine.gpu_gb, _SECONDS_PER_BILLION["cuda"]
    else:
        fits, per_billion = memory <= machine.ram_gb * _RAM_SHARE, _SECONDS_PER_BILLION[precision]
    seconds = max(1, math.ceil(spec.params_billion * per_billion))
    return ModelFit(spec, memory, fits, seconds, machine)


def recommend(fits: Iterable[ModelFit]) -> ModelFit | None:
    """The default model where it fits a GPU; otherwise the fastest model that fits."""
    fitting = [f for f in fits if f.fits]
    for f in fitting:
        if f.spec.name == DEFAULT_MODEL and f.machine.device == "cuda":
            return f
    return min(fitting, key=lambda f: f.seconds, default=None)


def demo_available() -> bool:
    return (catalog.demo_folder() / "config.json").is_file()


def ask_model_folder(parent: QWidget, say: Callable[[str], None]) -> str | None:
    """Ask the user for a folder that holds a model (setup and settings both offer this).
    The folder, or None when they cancelled or it holds no model Lookaloud can read; `say`
    then gets the sentence that explains why."""
    folder = QFileDialog.getExistingDirectory(parent, "Choose the folder that holds the model")
    if not folder:
        return None
    try:
        catalog.resolve(folder)
    except (UnknownModelError, ValueError, OSError) as error:
        say(str(error) if isinstance(error, UnknownModelError) else
            f"The folder {folder} does not hold a model Lookaloud can read.")
        return None
    return str(Path(folder))


class _DownloadWorker(QObject):
    """Runs download_model on the dialog's worker thread; its slot runs off the GUI thread."""

    progressed = Signal(object)  # DownloadProgress
    finished = Signal(str)  # the installed folder
    failed = Signal(str, str)  # message, DownloadError.kind

    def __init__(self, cancel: threading.Event) -> None:
        super().__init__()
        self._cancel = cancel

    @Slot(object)
    def run(self, spec: ModelSpec) -> None:
        """Worker thread: blocks until the download ends, fails or is cancelled."""
        try:
            folder = download_model(spec, progress=self.progressed.emit, cancel=self._cancel)
        except DownloadError as error:
            self.failed.emit(str(error), error.kind)
        except Exception as error:  # noqa: BLE001 - the dialog must hear about every failure
            self.failed.emit(f"The download failed: {error}.", "server")
        else:
            self.finished.emit(str(folder))


class SetupDialog(QDialog):
    """Choose the model on first run. `chosen_model` holds the result after accept()."""

    model_chosen = Signal(str)
    _download_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, machine: Machine | None = None,
                 models: Iterable[ModelSpec] | None = None, say: Callable[[str], None] | None = None) -> None:
        """`say`: how a sentence reaches the user (the app's speech); None: announce it."""
        super().__init__(parent)
        self.setWindowTitle("Set up Lookaloud")
        self.setAccessibleName("Set up Lookaloud")
        self.chosen_model: str | None = None
        self.machine = machine or detect_machine()
        fits = [assess(spec, self.machine) for spec in (models if models is not None else CATALOG.values())]
        self.recommended = recommend(fits)
        # The recommended model first (the first item a screen reader reads), then the others
        # that fit, then those that do not, each group in catalog order.
        self.fits = sorted(fits, key=lambda f: (f is not self.recommended, not f.fits))
        self._cancel = threading.Event()
        self._thread: WorkerThread | None = None
        self._worker: _DownloadWorker | None = None
        self._downloading: ModelSpec | None = None
        self._last_decile = -1

        intro = QLabel(
            "Lookaloud needs a picture description model: download one, use a folder you already "
            "have, or try the demo model. Nothing is downloaded until you press Download.")
        intro.setWordWrap(True)

        self.model_list = QListWidget()
        self.model_list.setAccessibleName("Models")
        self.model_list.setAccessibleDescription(
            "Each model with its download size, the memory it needs, and its expected speed.")
        self.model_list.setWordWrap(True)
        self.model_list.setSpacing(4)
        for fit in self.fits:
            item = QListWidgetItem(fit.sentence(fit is self.recommended))
            item.setData(Qt.ItemDataRole.UserRole, fit.spec.name)
            self.model_list.addItem(item)
        list_label = QLabel("&Models for this computer:")
        list_label.setBuddy(self.model_list)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setAccessibleName("Download progress")
        self.progress_bar.setVisible(False)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        # No accessible name of its own, so a screen reader reviewing it reads the message;
        # every message is also announced when it appears.
        self.announcer = Announcer(self)
        self._say_through = say

        self.download_button = QPushButton("&Download")
        self.download_button.setAccessibleDescription("Downloads the model selected in the list.")
        self.cancel_button = QPushButton("&Cancel download")
        self.cancel_button.setEnabled(False)
        self.folder_button = QPushButton("&Use a folder I already have...")
        self.demo_button = QPushButton("&Try the demo model")
        self.demo_button.setAccessibleDescription("A tiny model that only knows simple shapes, for trying Lookaloud.")
        self.demo_button.setVisible(demo_available())
        self.later_button = QPushButton("&Later")
        self.later_button.setAccessibleDescription("Closes setup; Lookaloud will ask again next time.")
        for button in (self.download_button, self.cancel_button, self.folder_button, self.demo_button,
                       self.later_button):
            button.setAutoDefault(False)
            button.setAccessibleName(button.text().replace("&", "").rstrip("."))
        # No default button: Enter anywhere but on a button must never start a download.

        # Two rows, so that with large text the buttons still fit a small screen side by side.
        buttons = QGridLayout()
        buttons.addWidget(self.download_button, 0, 0)
        buttons.addWidget(self.cancel_button, 0, 1)
        buttons.addWidget(self.folder_button, 1, 0)
        buttons.addWidget(self.demo_button, 1, 1)
        buttons.addWidget(self.later_button, 1, 3)
        buttons.setColumnStretch(2, 1)
        layout = QVBoxLayout(self)
        for widget in (intro, list_label, self.model_list, self.progress_bar, self.status_label):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self.setMinimumWidth(fitting_width(self, 80))

        self.download_button.clicked.connect(self.on_download_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.folder_button.clicked.connect(self.on_folder_clicked)
        self.demo_button.clicked.connect(self.on_demo_clicked)
        self.later_button.clicked.connect(self.reject)
        self.model_list.installEventFilter(self)

        self.model_list.setCurrentRow(0)
        self.model_list.setFocus()

    # -- helpers -------------------------------------------------------------------------------

    def selected_spec(self) -> ModelSpec | None:
        row = self.model_list.currentRow()
        return self.fits[row].spec if 0 <= row < len(self.fits) else None

    def _say(self, text: str) -> None:
        self.status_label.setText(text)
        self._speak(text)

    def _speak(self, text: str) -> None:
        """Say text without showing it: through the app's speech, or else announced."""
        (self._say_through or self.announcer.announce)(text)

    def download_hint(self) -> str:
        """What Enter on the model list says: how to download the model it names, and its size."""
        spec = self.selected_spec()
        if spec is None:
            return "Choose a model in the list first."
        size = (f"{spec.download_mb / 1000:.1f} gigabytes" if spec.download_mb >= 1000
                else f"{spec.download_mb} megabytes")
        return (f"To download {spec.name}, {size}, press Alt+D or Tab to Download and press it. "
                "Nothing is downloaded until then.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.model_list and event.type() == QEvent.Type.KeyPress
                and isinstance(event, QKeyEvent) and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self._say(self.download_hint())
            return True  # the dialog never sees it: Enter here starts nothing
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter presses the focused button (the buttons are not auto-default, so that none
        becomes the default one) and does nothing elsewhere; Escape still closes."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            focused = self.focusWidget()
            if isinstance(focused, QPushButton) and focused.isEnabled() and focused.isVisible():
                focused.click()
            event.accept()
            return
        super().keyPressEvent(event)

    def _choose(self, model: str) -> None:
        self.chosen_model = model
        self.model_chosen.emit(model)
        self.accept()

    def is_downloading(self) -> bool:
        return self._downloading is not None

    # -- download ------------------------------------------------------------------------------

    @Slot()
    def on_download_clicked(self) -> None:
        spec = self.selected_spec()
        if spec is None or self.is_downloading():
            return
        if self._thread is None:
            self._worker = _DownloadWorker(self._cancel)
            self._thread = WorkerThread(self._worker, "model-download", request_stop=self._cancel.set, parent=self)
            self._worker.progressed.connect(self.on_download_progressed)
            self._worker.finished.connect(self.on_download_finished)
            self._worker.failed.connect(self.on_download_failed)
            self._download_requested.connect(self._worker.run)
            self._thread.start()
        self._cancel.clear()
        self._downloading = spec
        self._last_decile = -1
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self.download_button.setEnabled(False)
        self.folder_button.setEnabled(False)
        self.demo_button.setEnabled(False)
        self.model_list.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setFocus()
        self._say(f"Downloading {spec.name}. Press Cancel download to stop; you can continue later.")
        self._download_requested.emit(spec)

    @Slot(object)
    def on_download_progressed(self, p: DownloadProgress) -> None:
        if self._downloading is None:
            return
        self.progress_bar.setValue(math.floor(p.percent))
        line = format_progress(p)
        self.progress_bar.setAccessibleDescription(line)
        self.status_label.setText(f"Downloading {self._downloading.name}: {line}")
        decile = math.floor(p.percent / 10)
        if p.phase == "downloading" and decile > self._last_decile and decile < 10:
            self._last_decile = decile
            self._speak(line)

    def _download_ended(self) -> ModelSpec | None:
        spec, self._downloading = self._downloading, None
        self.cancel_button.setEnabled(False)
        for widget in (self.download_button, self.folder_button, self.demo_button, self.model_list):
            widget.setEnabled(True)
        return spec

    @Slot(str)
    def on_download_finished(self, folder: str) -> None:
        spec = self._download_ended()
        if spec is None:
            return
        self.progress_bar.setValue(100)
        self._say(f"Download complete. Lookaloud will use {spec.name}.")
        self._choose(spec.name)

    @Slot(str, str)
    def on_download_failed(self, message: str, kind: str) -> None:
        self._download_ended()
        self.download_button.setText("&Resume download")
        self.download_button.setAccessibleName("Resume download")
        if kind != "cancelled":
            message += " Press Resume download to try again."
        self._say(message)
        self.download_button.setFocus()

    @Slot()
    def on_cancel_clicked(self) -> None:
        if self.is_downloading():
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self._say("Cancelling the download.")

    # -- other choices -------------------------------------------------------------------------

    @Slot()
    def on_folder_clicked(self) -> None:
        folder = ask_model_folder(self, self._say)
        if folder is None:
            self.folder_button.setFocus()
            return
        self._choose(folder)

    @Slot()
    def on_demo_clicked(self) -> None:
        self._choose(DEMO_MODEL)

    # -- closing -------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Cancel any download and stop the worker thread (waits about a second at most).
        Closing the dialog does this; call it if the app quits with the dialog still open."""
        # The download notices a cancel within about a second (hub.py's read timeout).
        if self._thread is None:
            return
        self._thread.stop()
        self._thread = None
        self._downloading = None


def choose_model(parent: QWidget | None = None, **kwargs: object) -> str | None:
    """Show setup modally; the chosen model (a name or a folder), or None for Later. `say`
    (in kwargs) is how its sentences reach the user."""
    dialog = SetupDialog(parent, **kwargs)  # type: ignore[arg-type]
    try:
        return dialog.chosen_model if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()
