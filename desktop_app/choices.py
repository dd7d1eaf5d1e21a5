"""The fixed choice lists of Lookaloud's settings, in one place: the model's device and
precision and where speech goes, each a str-valued enum with the sentence a user hears for it.

Qt-free and import-free, so the settings file, the vision loader, the commands and the
Settings dialog all read the same lists. The values are what settings.json stores.
"""

from __future__ import annotations

from enum import Enum


class Choice(str, Enum):
    """A choice whose value is the string settings.json and the command line use."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)

    @property
    def label(self) -> str:
        """What a user sees and hears for this choice (Settings' lists)."""
        return _LABELS[self]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def labels(cls) -> dict[str, str]:
        """value -> label, in the order the lists show them."""
        return {member.value: member.label for member in cls}


class Device(Choice):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"
    MPS = "mps"


class Precision(Choice):
    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    INT8 = "int8"
    INT4 = "int4"


class SpeechMode(Choice):
    VOICE = "voice"
    SCREEN_READER = "screen_reader"
    BOTH = "both"


_LABELS: dict[Choice, str] = {
    Device.AUTO: "Automatic: the graphics card when there is one",
    Device.CPU: "Processor only",
    Device.CUDA: "NVIDIA graphics card (CUDA)",
    Device.MPS: "Apple graphics (Metal)",
    Precision.AUTO: "Automatic: the best this device supports",
    Precision.FP32: "Full precision (most memory, slowest)",
    Precision.BF16: "Half precision, bfloat16",
    Precision.FP16: "Half precision, float16",
    Precision.INT8: "Eight-bit weights, processor only (quicker, far less memory)",
    Precision.INT4: "Language model in 4 bits, the rest in 8, processor only (least memory, a little less accurate)",
    SpeechMode.VOICE: "Lookaloud's own voice",
    SpeechMode.SCREEN_READER: "My screen reader",
    SpeechMode.BOTH: "Both",
}
