"""
Real audio files for emulated music jobs: a short generated melody, as MP3 (or WAV when asked).

- Length: the request's length when it gives one (ElevenLabs' ``music_length_ms``), else 6 s; at
  most 20 s (an extended Suno track: where it continues from, plus 6 s, at most 20 s).
- Sound: 22,050 Hz mono. A melody of quarter-second notes on the A minor pentatonic scale, chosen
  by a seed (the same seed, the same tune), sung by a vibrato sine (``vocals``) over a bass and a
  soft fifth (``instrumental``); a song (``mix``) has both. Suno's stems are the two parts of one
  track's tune.
- Format: MP3 (libmp3lame), or WAV (16-bit PCM) for ElevenLabs' ``wav_*`` output formats.
  A 6 s file encodes in well under a tenth of a second.

PyAV (``av``) is imported on first use: it is only needed once a sound is asked for.
"""

from __future__ import annotations

import array
import dataclasses
import hashlib
import io
import math
from functools import cache
from typing import Any, Literal

SAMPLE_RATE = 22_050
DEFAULT_SECONDS = 6.0
EXTEND_SECONDS = 6.0
MAX_SECONDS = 20.0
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
_NOTE_SECONDS = 0.25
_SCALE = (220.0, 261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33, 659.25, 783.99)  # A minor pentatonic
_CHUNK = 1152  # samples per frame handed to the encoder (one MP3 frame)

Part = Literal["mix", "vocals", "instrumental"]


@dataclasses.dataclass(frozen=True)
class AudioSpec:
    """
    What a job's result sounds look like.

    :param count: Number of files.
    :param seconds: The length of each.
    :param fmt: ``mp3`` or ``wav``.
    """

    count: int
    seconds: float
    fmt: str = "mp3"

    @property
    def content_type(self) -> str:
        """The MIME type of the files."""
        return CONTENT_TYPES[self.fmt]


def audio_spec(model: str, params: dict[str, Any]) -> AudioSpec:
    """
    Work out a (non-Suno) music job's files from its model and parameters block.

    :param model: The ``model`` of the request.
    :param params: Its ``<family>Params`` block (may be empty).
    """
    seconds = DEFAULT_SECONDS
    length = params.get("music_length_ms")
    if isinstance(length, (int, float)) and not isinstance(length, bool) and length > 0:
        seconds = length / 1000
    count = params.get("n", 2 if model == "mureka" else 1)  # Mureka makes n songs, 2 by default
    fmt = "wav" if str(params.get("output_format") or "").startswith("wav") else "mp3"
    return AudioSpec(count if isinstance(count, int) and count > 0 else 1, clamp(seconds), fmt)


def clamp(seconds: float) -> float:
    """
    A length the emulator renders: at least a second, at most :data:`MAX_SECONDS`.

    :param seconds: The length asked for.
    """
    return max(1.0, min(MAX_SECONDS, seconds))


def render_audio(seed: str, spec: AudioSpec, part: Part = "mix") -> bytes:
    """
    Generate and encode one sound file.

    :param seed: Chooses the tune.
    :param spec: Length and format.
    :param part: ``mix`` (a song), ``vocals`` or ``instrumental`` (a stem).
    """
    import av

    samples = _samples(seed, spec.seconds, part)
    out = io.BytesIO()
    codec, container_format = ("pcm_s16le", "wav") if spec.fmt == "wav" else ("libmp3lame", "mp3")
    with av.open(out, "w", format=container_format) as container:
        stream: Any = container.add_stream(codec, rate=SAMPLE_RATE)
        stream.layout = "mono"
        stream.format = "s16" if spec.fmt == "wav" else "s16p"
        for start in range(0, len(samples), _CHUNK):
            chunk = samples[start : start + _CHUNK]
            frame = av.AudioFrame(format=stream.format.name, layout="mono", samples=len(chunk))
            frame.planes[0].update(chunk.tobytes())
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _samples(seed: str, seconds: float, part: Part) -> array.array[int]:
    """The 16-bit samples of a tune: one note of the melody per quarter second."""
    digest = hashlib.sha256(seed.encode()).digest()
    per_note = round(_NOTE_SECONDS * SAMPLE_RATE)
    total = round(seconds * SAMPLE_RATE)
    out = array.array("h", bytes(2 * total))
    for n, start in enumerate(range(0, total, per_note)):
        pitch = digest[n % len(digest)] % len(_SCALE)
        root = digest[(n // 8) % len(digest)] % 5  # the bass moves every two seconds
        length = min(per_note, total - start)
        out[start : start + length] = _note(pitch, root, part)[:length]
    return out


@cache
def _note(pitch: int, root: int, part: Part) -> array.array[int]:
    """One quarter-second note: the melody's ``pitch`` (vibrato sine) and/or the bass on ``root``."""
    tones: list[tuple[float, float, float]] = []  # angular frequency per sample, amplitude, vibrato
    if part in ("mix", "vocals"):
        tones.append((2 * math.pi * _SCALE[pitch] / SAMPLE_RATE, 0.35, 0.006))
    if part in ("mix", "instrumental"):
        bass = 2 * math.pi * _SCALE[root] / 2 / SAMPLE_RATE
        tones += [(bass, 0.3, 0.0), (bass * 1.5, 0.12, 0.0)]
    length = round(_NOTE_SECONDS * SAMPLE_RATE)
    wobble = 2 * math.pi * 5 / SAMPLE_RATE  # 5 Hz vibrato
    values = [0.0] * length
    for omega, amp, depth in tones:
        for k in range(length):
            values[k] += amp * math.sin(omega * k * (1 + depth * math.sin(wobble * k)))
    # A short attack and release: no clicks between notes.
    return array.array(
        "h",
        (
            int(32767 * max(-1.0, min(1.0, v * min(1.0, k / 200, (length - k) / 400))))
            for k, v in enumerate(values)
        ),
    )
