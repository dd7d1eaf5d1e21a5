"""Commands versus questions: the four spoken commands and their paraphrases are commands,
everything else reaches the vision model as a question; also when spoken and transcribed."""

from __future__ import annotations

import pytest

from desktop_app.speech.voice_commands import VoiceCommand, recognise_command
from testkit.speech_audio import shared_transcriber, speak, surround

AGAIN, READ, SCREEN, STOP = (VoiceCommand.DESCRIBE_AGAIN, VoiceCommand.READ_TEXT,
                             VoiceCommand.DESCRIBE_SCREEN, VoiceCommand.STOP)


@pytest.mark.parametrize(("said", "command"), [
    ("Describe it again.", AGAIN), ("describe the picture again please", AGAIN), ("Say that again?", AGAIN),
    ("Repeat.", AGAIN), ("Once more.", AGAIN), ("What was that?", AGAIN),
    ("Read the text.", READ), ("Please read the text out loud.", READ), ("Can you read it?", READ),
    ("Read it aloud.", READ), ("What does it say?", READ), ("Read.", READ),
    ("Describe the screen.", SCREEN), ("What is on my screen?", SCREEN), ("What's on the screen now?", SCREEN),
    ("Lookaloud, describe the screen.", SCREEN), ("Take a new screenshot.", SCREEN), ("Look at my screen.", SCREEN),
    ("Stop.", STOP), ("Stop talking!", STOP), ("Be quiet.", STOP), ("Never mind.", STOP), ("Okay, stop.", STOP),
    ("Cancel", STOP), ("That's enough, thanks.", STOP),
])
def test_commands_and_paraphrases_are_recognised(said: str, command: VoiceCommand) -> None:
    assert recognise_command(said) is command


@pytest.mark.parametrize("said", [
    "What does the stop sign say?",
    "What color is the car?",
    "Is there any text in the picture?",
    "How many people are there?",
    "Describe the person on the left.",
    "What is the screen showing in the corner?",
    "Read the sign on the left.",
    "Can you describe the dog?",
    "Why did the bus stop?",
    "Thank you.",
    "",
    "   ",
])
def test_questions_stay_questions(said: str) -> None:
    assert recognise_command(said) is None


@pytest.mark.parametrize(("spoken", "voice", "command"), [
    ("Describe it again.", "en-us", AGAIN),
    ("Read the text.", "en-gb-x-rp", READ),
    ("Describe the screen.", "en", SCREEN),
    ("Stop.", "en-us+f3", STOP),
    ("How many people are in the picture?", "en-us", None),
])
def test_spoken_commands_survive_speech_recognition(spoken: str, voice: str, command: VoiceCommand | None) -> None:
    text = shared_transcriber().transcribe(surround(speak(spoken, voice=voice), before=0.5, after=0.5)).text
    assert recognise_command(text) is command, text
