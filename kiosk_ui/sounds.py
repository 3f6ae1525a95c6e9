"""Three short tones for the counter (`[screen] sound = true`), one per verdict screen: a bright
rising pair when a meal is served, one low tone when it is refused, and three quick alternating
notes, like no other, when the kiosk itself failed. Made with the standard library the first time, kept in the data
folder, played through Kivy's audio; a kiosk without a sound card just stays silent."""

from __future__ import annotations

import logging
import math
import struct
import wave
from pathlib import Path

log = logging.getLogger(__name__)
RATE = 22_050
TONES = {"served": ((880, 0.12), (1320, 0.12)), "refused": ((220, 0.35),),
         "fault": ((660, 0.1), (440, 0.1), (660, 0.1))}


def write_tone(path: Path, notes: tuple[tuple[int, float], ...]) -> Path:
    """A mono 16-bit WAV of the notes (frequency Hz, seconds), each faded in and out (no clicks)."""
    frames = bytearray()
    for frequency, seconds in notes:
        count = int(RATE * seconds)
        fade = max(1, count // 10)
        for n in range(count):
            envelope = min(1.0, n / fade, (count - n) / fade)
            frames += struct.pack("<h", int(12_000 * envelope * math.sin(2 * math.pi * frequency * n / RATE)))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(bytes(frames))
    return path


class Chimes:
    def __init__(self, folder: Path) -> None:
        from kivy.core.audio import SoundLoader

        self.sounds = {}
        for name, notes in TONES.items():
            path = folder / f"{name}.wav"
            if not path.exists():
                write_tone(path, notes)
            sound = SoundLoader.load(str(path))
            if sound is None:
                log.warning("no audio output: the kiosk stays silent")
                break
            self.sounds[name] = sound

    def play(self, kind: str) -> None:
        """The tone of a verdict screen: "served", "refused" or "fault"."""
        sound = self.sounds.get(kind)
        if sound is not None:
            sound.stop()
            sound.play()
