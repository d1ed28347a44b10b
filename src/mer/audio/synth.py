"""A seeded generator of short music clips whose emotion quadrant shapes the music.

The embedded dataset of `mer` (demo and tests run on it without any data). A clip is
a small arrangement: melody, chords, bass and drums.

* Pitched parts: wavetable synthesis (band-limited single-cycle tables with random
  harmonic weights, read by an integer phase accumulator), ADSR envelopes, then a
  low-pass filter (subtractive stage), optional detuning and saturation (roughness).
* Drums: kick (sine with falling pitch), snare (band-passed noise + tone), hi-hat
  (high-passed noise), each rendered once and placed by slicing.
* Harmony stacks thirds on scale degrees, so the mode sets every chord quality; the
  bass plays chord roots; the melody walks the scale mostly by steps, pulled to chord
  tones on strong beats, on a repeated one-bar rhythmic motif.

A song first draws its latent position on the circumplex, ``arousal, valence ~
N(quadrant centre, sd)`` in [0, 1]; every cue is a noisy function of that position
(:func:`sample_song_params`), so cues correlate as in real music and neighbouring
quadrants overlap: a nearest-centroid classifier on a dozen librosa summary
features scores about 0.8 on the four classes, not 1.0.

* Arousal (Q1, Q2 high): tempo (~58-170 BPM), loudness (RMS -30..-8 dBFS), notes per
  beat, hi-hat subdivision, staccato and short attacks, drum level, chord stabs
  rather than pads, less reverb.
* Valence (Q1, Q4 positive): mode (major with probability 0.8 in Q1/Q4, minor,
  phrygian or harmonic minor with probability 0.8 in Q2/Q3), brightness, register,
  and dissonance (mostly Q2: tritones and minor seconds in chords, chromatic melody
  notes, detuned doubled voices, tanh saturation).

Key, timbres, progression and chord style are random per song; ``render(...,
section=k)`` gives other passages (melody, rhythm, first chord) of the same song.
All vectorised numpy, one Python iteration per note, never per sample: a 6-s clip
at 22,050 Hz takes about 20-30 ms of CPU. Bump :data:`GENERATOR_VERSION` whenever
the output for given arguments changes (rendered sets are cached under it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
from scipy import signal

from mer.core.io import atomic_open
from mer.core.labels import QUADRANTS

#: Bumped whenever the audio produced for given arguments changes.
GENERATOR_VERSION = 2

#: Scales as semitones above the tonic.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
_PROGRESSIONS = {  # chord roots as 0-based scale degrees; all lean on the tonic chord
    "major": ((0, 3, 4, 0), (0, 4, 5, 3), (0, 3, 0, 4), (0, 1, 4, 0), (0, 5, 3, 4)),
    "minor": ((0, 3, 4, 0), (0, 3, 0, 4), (0, 5, 3, 4), (0, 5, 6, 0), (0, 3, 6, 0)),
    "phrygian": ((0, 1, 0, 6), (0, 1, 3, 0), (0, 6, 5, 1)),
}
_PROGRESSIONS["harmonic_minor"] = _PROGRESSIONS["minor"]
_CENTRES = {"Q1": (0.72, 0.78), "Q2": (0.72, 0.22), "Q3": (0.28, 0.22), "Q4": (0.28, 0.78)}  # (arousal, valence)
_LATENT_SD = (0.15, 0.12)
_MODES_POS = {"major": 0.8, "minor": 0.2}
_MODES_NEG = {"minor": 0.4, "phrygian": 0.2, "harmonic_minor": 0.2, "major": 0.2}
_TABLE_BITS = 11
_N_HARMONICS = 12


@dataclass(frozen=True)
class SongParams:
    """Every musical parameter of one synthetic song.

    Attributes
    ----------
    quadrant : str
        The quadrant drawn for (``"Q1"`` .. ``"Q4"``); metadata, :func:`render` ignores it.
    arousal, valence : float
        Latent position on the circumplex in [0, 1]; the rest derive from it plus noise.
    tempo_bpm : float
        Beats per minute.
    key, mode : int, str
        Tonic pitch class (0 = C .. 11 = B) and a key of :data:`SCALES`.
    register : int
        MIDI note of the melody's tonic; chords sit an octave lower, the bass at A1-G#3.
    gain_db : float
        Target RMS in dBFS (lowered only if the peak would exceed 1).
    density : float
        Melody grid in notes per beat (0.5, 1, 2 or 4).
    hat_subdivision : int
        Hi-hat hits per beat (0, 1, 2 or 4).
    articulation : float
        Fraction of the inter-onset interval a note sounds, in (0, 1]; >= 0.65 is
        legato and selects the sparse ("slow") bass and drum patterns.
    attack : float
        ADSR attack of melody and chords, s.
    brightness : float
        In [0, 1]: harmonic rolloff and low-pass cutoff (1200 * 2**(3 * brightness) Hz).
    dissonance : float
        In [0, 1]: probability of a tritone/minor second added per chord and of chromatic
        melody notes; above 0.3 voices are doubled, detuned by up to 25 cents; above
        0.4 the mix is saturated.
    drum_level, reverb : float
        In [0, 1]: drum gain (no drums below 0.05); reverb level and decay.
    chord_beats : int
        Beats per chord (2 or 4).
    chord_style : str
        ``"pad"`` (sustained), ``"arpeggio"`` or ``"stabs"`` (both over a soft pad).
    progression : tuple of int
        Chord roots as 0-based scale degrees.
    lead_harmonics, pad_harmonics : tuple of float
        Amplitudes of harmonics 1..12 of the melody and chord timbres.
    """

    quadrant: str
    arousal: float
    valence: float
    tempo_bpm: float
    key: int
    mode: str
    register: int
    gain_db: float
    density: float
    hat_subdivision: int
    articulation: float
    attack: float
    brightness: float
    dissonance: float
    drum_level: float
    reverb: float
    chord_beats: int
    chord_style: str
    progression: tuple[int, ...]
    lead_harmonics: tuple[float, ...]
    pad_harmonics: tuple[float, ...]

    def __post_init__(self):
        _check_quadrant(self.quadrant)
        if self.mode not in SCALES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {', '.join(SCALES)}")
        _check_positive(tempo_bpm=self.tempo_bpm, density=self.density, articulation=self.articulation)


def _check_quadrant(quadrant) -> None:
    if quadrant not in QUADRANTS:
        raise ValueError(f"unknown quadrant {quadrant!r}; expected one of {', '.join(QUADRANTS)}")


def _check_positive(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not 0 < v < math.inf:
            raise ValueError(f"{name} must be a positive number, got {v!r}")


def _choice(rng: np.random.Generator, table: dict):
    keys, p = list(table), np.asarray(list(table.values()), float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _harmonics(rng: np.random.Generator, brightness: float, extra_rolloff: float) -> tuple[float, ...]:
    """Harmonic weights ~ h**-(2.3 - 1.6 * brightness), jittered; sometimes hollow (mostly odd)."""
    h = np.arange(1, _N_HARMONICS + 1)
    w = h ** -(2.3 - 1.6 * brightness + extra_rolloff) * rng.uniform(0.5, 1.5, h.size)
    if rng.random() < 0.3:
        w[1::2] *= 0.15
    w[0] = 1.0
    return tuple(round(float(x), 4) for x in w)


def sample_song_params(quadrant: str, rng: np.random.Generator) -> SongParams:
    """Draw the parameters of one song of `quadrant`.

    Parameters
    ----------
    quadrant : str
        ``"Q1"``, ``"Q2"``, ``"Q3"`` or ``"Q4"``.
    rng : numpy.random.Generator
        Source of randomness; the result is a deterministic function of its state.

    Returns
    -------
    SongParams
    """
    _check_quadrant(quadrant)
    a, v = (float(np.clip(rng.normal(c, sd), 0, 1)) for c, sd in zip(_CENTRES[quadrant], _LATENT_SD))

    def cue(x: float, sd: float = 0.1) -> float:  # a noisy reading of `x`, in [0, 1]
        return float(np.clip(x + rng.normal(0.0, sd), 0.0, 1.0))

    e = cue(a)  # "energy": one reading of arousal shared by the rhythmic cues
    tempo = 58.0 + 112.0 * cue(0.85 * a + 0.15 * v, 0.12)
    brightness = cue(0.05 + 0.25 * a + 0.65 * v, 0.08)
    mode = _choice(rng, _MODES_POS if quadrant in ("Q1", "Q4") else _MODES_NEG)
    key = int(rng.integers(12))
    centre = 55 + 22 * cue(0.75 * v + 0.25 * a)
    style = cue(e, 0.15)
    pool = _PROGRESSIONS[mode]
    return SongParams(
        quadrant=quadrant, arousal=round(a, 3), valence=round(v, 3), tempo_bpm=round(tempo, 2), key=key,
        mode=mode, register=int(round(centre - ((centre - key + 6) % 12 - 6))),  # nearest note of pitch class key
        gain_db=round(-30.0 + 22.0 * cue(a, 0.08), 2),
        density=(0.5, 1.0, 2.0, 4.0)[int(np.digitize(cue(e, 0.12), (0.3, 0.55, 0.85)))],
        hat_subdivision=(0, 1, 2, 4)[int(np.digitize(cue(e, 0.15), (0.3, 0.45, 0.7)))],
        articulation=round(1.0 - 0.85 * cue(e, 0.08), 3), attack=round(0.003 + 0.12 * (1.0 - cue(a)) ** 2, 4),
        brightness=round(brightness, 3), dissonance=round(cue(1.5 * (0.6 - v) + 0.8 * (a - 0.5)), 3),
        drum_level=round(cue(1.4 * e - 0.2, 0.15), 3), reverb=round(cue(0.5 - 0.45 * a, 0.06), 3),
        chord_beats=4 if tempo >= 90 or rng.random() < 0.4 else 2,
        chord_style="pad" if style < 0.35 else "arpeggio" if style < 0.55 else "stabs",
        progression=tuple(int(d) for d in pool[rng.integers(len(pool))]),
        lead_harmonics=_harmonics(rng, brightness, 0.0), pad_harmonics=_harmonics(rng, brightness, 0.5),
    )


class _Voice:
    """A wavetable instrument adding ADSR-shaped notes to a buffer.

    A 32-bit integer phase accumulator (its wrap-around is the modulo) indexes a
    single-cycle table with the top bits; tables keep only harmonics below
    0.45 * sr, so high notes do not alias.
    """

    def __init__(self, buf, sr, harmonics, rng, attack, decay=0.15, sustain=0.7, release=0.08, detune=0.0):
        self.buf, self.sr, self.rng, self.weights = buf, sr, rng, np.asarray(harmonics, float)
        self.attack, self.decay, self.sustain, self.release, self.detune = attack, decay, sustain, release, detune
        self._tables: dict[int, np.ndarray] = {}
        self._k = np.arange(buf.size, dtype=np.uint32)

    def _table(self, n_harm: int) -> np.ndarray:
        if n_harm not in self._tables:
            x = np.arange(1 << _TABLE_BITS) / (1 << _TABLE_BITS)
            t = (self.weights[:n_harm, None] * np.sin(2 * np.pi * np.arange(1, n_harm + 1)[:, None] * x)).sum(0)
            self._tables[n_harm] = t / np.abs(t).max()
        return self._tables[n_harm]

    def note(self, t0: float, dur: float, midi, vel: float = 1.0) -> None:
        """Add a note (a chord if `midi` is a sequence) starting at `t0` s and held `dur` s."""
        sr, n = self.sr, self.buf.size
        start = int(round(t0 * sr))
        if not 0 <= start < n:
            return
        freqs = 440.0 * 2.0 ** ((np.atleast_1d(np.asarray(midi, float)) - 69) / 12)
        if self.detune:
            ratio = 2.0 ** (self.detune / 1200)
            freqs = np.concatenate([freqs * ratio, freqs / ratio])
        a, d, r = (max(int(x * sr), 1) for x in (self.attack, self.decay, self.release))
        hold = max(int(dur * sr), a + d + 1)
        length = min(hold + r, n - start)
        inc = np.round(freqs / sr * 2.0**32).astype(np.uint32)[:, None]
        phase0 = self.rng.integers(0, 2**32, size=(freqs.size, 1), dtype=np.uint32)
        idx = (self._k[:length] * inc + phase0) >> np.uint32(32 - _TABLE_BITS)
        wave = self._table(int(np.clip(0.45 * sr / freqs.max(), 1, self.weights.size)))[idx]
        wave = wave[0] if freqs.size == 1 else wave.sum(0) / freqs.size
        env = np.interp(self._k[:length], [0, a, a + d, hold, hold + r], [0, 1, self.sustain, self.sustain, 0])
        self.buf[start:start + length] += (vel * env) * wave


def _drum_kit(sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot samples, peak 1: kick (pitch-dropping sine), snare (noise + tone), hi-hat (noise)."""
    t = np.arange(int(0.35 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(45 + 110 * np.exp(-t / 0.03)) / sr) * np.exp(-t / 0.12)
    ts, th = t[: int(0.2 * sr)], t[: int(0.08 * sr)]
    band = signal.butter(2, [min(1000, 0.2 * sr), min(5000, 0.45 * sr)], "bandpass", fs=sr, output="sos")
    snare = 0.7 * signal.sosfilt(band, rng.standard_normal(ts.size)) * np.exp(-ts / 0.06)
    snare += 0.5 * np.sin(2 * np.pi * 190 * ts) * np.exp(-ts / 0.04)
    high = signal.butter(2, min(6000, 0.4 * sr), "highpass", fs=sr, output="sos")
    hat = signal.sosfilt(high, rng.standard_normal(th.size)) * np.exp(-th / 0.02)
    return {k: x / np.abs(x).max() for k, x in (("kick", kick), ("snare", snare), ("hat", hat))}


def _place(buf: np.ndarray, sample: np.ndarray, t0: float, sr: int, gain: float) -> None:
    start = int(round(t0 * sr))
    if 0 <= start < buf.size:
        end = min(start + sample.size, buf.size)
        buf[start:end] += gain * sample[: end - start]


def render(params: SongParams, *, duration: float = 6.0, sr: int = 22050, seed: int = 0,
           section: int = 0) -> np.ndarray:
    """Render a passage of the song described by `params`.

    Parameters
    ----------
    params : SongParams
        The song (see :func:`sample_song_params`).
    duration : float > 0
        Length in seconds.
    sr : int > 0
        Sample rate in Hz.
    seed : int
        Seed of the note-level choices (melody, rhythm, voicing, noise).
    section : int
        Which passage of the song: sections share the song's style but differ in
        melody, rhythm and starting chord.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),), dtype=float32]
        Mono audio, peak <= 1.0.
    """
    _check_positive(duration=duration, sr=sr)
    sr = int(sr)
    n = int(round(duration * sr))
    if n == 0:
        return np.zeros(0, np.float32)
    beat = 60.0 / params.tempo_bpm
    slow = params.articulation >= 0.65
    ps = _Passage(params, sr, n, np.random.default_rng([int(seed) % 2**63, int(section) % 2**63, 0x5EC]), beat,
                  n_beats=int(duration / beat) + 2, slow=slow, jitter=0.012 if slow else 0.004)
    lead_buf, chord_buf, bass_buf, drum_buf = (np.zeros(n) for _ in range(4))
    # the parts draw from one generator in this order: voices' phases interleave with note choices
    lead, pad, bed, bass = _voices(ps, lead_buf, chord_buf, bass_buf)
    roots = _harmony_and_bass(ps, section, pad, bed, bass)
    _melody(ps, roots, lead)
    _drums(ps, drum_buf)
    return _mix(ps, lead_buf, chord_buf, bass_buf, drum_buf)


@dataclass(frozen=True)
class _Passage:
    """What the parts of a rendered passage share: the song, sample grid, beat grid and random draws."""

    p: SongParams
    sr: int
    n: int  # samples
    rng: np.random.Generator  # note-level choices of this passage (seed and section)
    beat: float  # seconds
    n_beats: int  # beats covering the passage, plus a spare
    slow: bool  # legato songs (articulation >= 0.65): calmer patterns, longer releases
    jitter: float  # humanised timing, s

    def midi(self, degree: int, base: int | None = None) -> int:
        """MIDI note of a scale degree (0 = tonic) above `base` (default: the song's register)."""
        scale = SCALES[self.p.mode]
        return (self.p.register if base is None else base) + scale[degree % 7] + 12 * (degree // 7)


def _voices(ps: _Passage, lead_buf: np.ndarray, chord_buf: np.ndarray, bass_buf: np.ndarray) -> tuple[_Voice, ...]:
    """(lead, pad, bed, bass): the pitched instruments; pad and bed share the chord buffer."""
    p, sr, rng, slow = ps.p, ps.sr, ps.rng, ps.slow
    detune = 25.0 * p.dissonance if p.dissonance > 0.3 else 0.0
    lead = _Voice(lead_buf, sr, p.lead_harmonics, rng, p.attack, decay=0.2, sustain=0.6 if slow else 0.4,
                  release=0.25 if slow else 0.05, detune=detune)
    pad = _Voice(chord_buf, sr, p.pad_harmonics, rng, p.attack * (3 if p.chord_style == "pad" else 1),
                 sustain=0.8, release=0.4 if slow else 0.06, detune=detune)
    bed = _Voice(chord_buf, sr, p.pad_harmonics, rng, 0.08, sustain=0.8, release=0.2)
    bass = _Voice(bass_buf, sr, (1, .5, .25, .12, .05), rng, 0.005, decay=0.2, sustain=0.6,
                  release=0.1 if slow else 0.03)
    return lead, pad, bed, bass


def _harmony_and_bass(ps: _Passage, section: int, pad: _Voice, bed: _Voice, bass: _Voice) -> list[int]:
    """One chord per span (the section picks the starting chord) and its bass line; returns the chord roots."""
    p, rng, beat, slow = ps.p, ps.rng, ps.beat, ps.slow
    bass_tonic = 33 + (p.key - 33) % 12  # A1 .. G#2
    offset = (section * 2) % len(p.progression)
    roots = [p.progression[(i + offset) % len(p.progression)] for i in range(ps.n_beats // p.chord_beats + 1)]
    seventh = slow and p.mode == "major" and rng.random() < 0.5  # maj7 colour in calm songs
    for i, root in enumerate(roots):
        t0, span = i * p.chord_beats * beat, p.chord_beats * beat
        notes = [ps.midi(d) for d in (root - 7, root - 5, root - 3, root + 2)]  # root, 3rd, 5th, 3rd up
        notes += [ps.midi(root - 1)] if seventh else []
        if rng.random() < p.dissonance:  # tritone or minor-second cluster
            notes.append(notes[0] + int(rng.choice([1, 6, 13, 18])))
        if p.chord_style == "pad":
            pad.note(t0, span * (0.5 + 0.5 * p.articulation), notes, 0.9)
        elif p.chord_style == "stabs":
            bed.note(t0, span * 0.9, notes[:4], 0.35)
            step = 1.0 if rng.random() < 0.5 else 0.5
            for b in np.arange(0, p.chord_beats, step):
                push = 0.5 if step == 1.0 and rng.random() < 0.3 else 0.0  # syncopation
                pad.note(t0 + (b + push) * beat, step * beat * p.articulation, notes, 0.8 + 0.2 * (b == 0))
        else:
            bed.note(t0, span * 0.9, notes[:4], 0.35)
            step = 0.5 if p.tempo_bpm < 120 else 1.0
            for j, b in enumerate(np.arange(0, p.chord_beats, step)):
                pad.note(t0 + b * beat, step * beat * (0.6 + 0.8 * p.articulation), notes[j % 3] + 12, 0.6)
        bstep = (2.0 if p.tempo_bpm < 80 else 4.0 / max(1, p.chord_beats // 2)) if slow else \
            (0.5 if rng.random() < p.arousal else 1.0)
        for j, b in enumerate(np.arange(0, p.chord_beats, bstep)):
            octave = 12 if not slow and j % 2 == 1 and rng.random() < 0.3 else 0
            bass.note(t0 + b * beat, bstep * beat * p.articulation, ps.midi(root, bass_tonic) + octave,
                      0.9 if j == 0 else 0.75)
    return roots


def _melody(ps: _Passage, roots: list[int], lead: _Voice) -> None:
    """A one-bar rhythmic motif, sometimes replaced; a stepwise walk pulled to chord tones."""
    p, rng, beat = ps.p, ps.rng, ps.beat
    grid = np.arange(0, 4, 1.0 / p.density)
    motif, deg, onsets = grid[np.r_[True, rng.random(grid.size - 1) < 0.75]], int(rng.integers(0, 5)), []
    for bar in range(ps.n_beats // 4 + 1):
        if rng.random() < 0.3:
            motif = grid[np.r_[True, rng.random(grid.size - 1) < 0.75]]
        onsets.extend(bar * 4 + motif)
    onsets = np.asarray(onsets)
    iois = np.diff(np.r_[onsets, onsets[-1] + 1.0 / p.density])
    steps = rng.choice([-3, -2, -1, 0, 1, 2, 3], size=onsets.size, p=[.03, .12, .3, .1, .3, .12, .03])
    for b, ioi, step in zip(onsets, iois, steps):
        span = int(b // p.chord_beats)
        deg += int(step)
        if span < len(roots) and (b % p.chord_beats == 0 or (b % 1 == 0 and rng.random() < 0.5)):
            deg = min((roots[span] + k for k in (-7, -5, -3, 0, 2, 4, 7, 9)), key=lambda x: abs(x - deg))
        deg = min(max(deg, -2), 9)
        m = ps.midi(deg)
        if b % 1 != 0 and rng.random() < 0.35 * p.dissonance:
            m += int(rng.choice([-1, 1, 6]))  # chromatic neighbour or tritone
        t0 = max(b * beat + rng.normal(0, ps.jitter), 0.0)
        lead.note(t0, min(ioi, 2.0) * beat * p.articulation, m, rng.uniform(0.7, 1.0))


def _drums(ps: _Passage, drum_buf: np.ndarray) -> None:
    """Backbeat for energetic songs, sparse kick / snare for legato ones, a hi-hat grid (none when quiet)."""
    p, rng, sr, beat, slow = ps.p, ps.rng, ps.sr, ps.beat, ps.slow
    if not p.drum_level > 0.05:
        return
    kit = _drum_kit(sr, rng)
    for b in range(ps.n_beats):
        pos, t0 = b % 4, b * beat
        if slow:
            kick, snare = pos == 0 or (pos == 2 and rng.random() < 0.4), pos == 2 and rng.random() < 0.7
        else:
            kick, snare = pos in (0, 2) or rng.random() < 0.15, pos in (1, 3)
            if rng.random() < 0.15 + 0.25 * p.dissonance:
                _place(drum_buf, kit["kick"], t0 + 0.5 * beat, sr, 0.7)
        if kick:
            _place(drum_buf, kit["kick"], t0, sr, 1.0)
        if snare:
            _place(drum_buf, kit["snare"], t0 + rng.normal(0, ps.jitter / 2), sr, 0.45 if slow else 0.7)
        for h in range(p.hat_subdivision):
            _place(drum_buf, kit["hat"], t0 + h * beat / p.hat_subdivision, sr,
                   (0.35 if h == 0 else 0.22) * rng.uniform(0.8, 1.0))


def _mix(ps: _Passage, lead_buf: np.ndarray, chord_buf: np.ndarray, bass_buf: np.ndarray,
         drum_buf: np.ndarray) -> np.ndarray:
    """Saturation, low-pass (brightness), reverb, fades, loudness; float32, peak <= 0.99."""
    p, sr, n = ps.p, ps.sr, ps.n
    tonal = 0.36 * lead_buf + 0.3 * chord_buf + 0.24 * bass_buf
    drive = 1.0 + 5.0 * max(0.0, p.dissonance - 0.4)
    if drive > 1.0:
        tonal = np.tanh(drive * tonal) / drive
    cutoff = min(1200.0 * 2 ** (3.0 * p.brightness), 0.45 * sr)
    y = signal.sosfilt(signal.butter(2, cutoff, "lowpass", fs=sr, output="sos"), tonal)
    drum_lp = signal.butter(1, min(2.5 * cutoff, 0.45 * sr), "lowpass", fs=sr, output="sos")
    y += 0.3 * p.drum_level * signal.sosfilt(drum_lp, drum_buf)
    if p.reverb > 0:
        tail = np.arange(int(0.9 * sr)) / sr
        ir = ps.rng.standard_normal(tail.size) * np.exp(-tail / (0.15 + 0.6 * p.reverb))
        ir *= p.reverb / np.sqrt(np.sum(ir**2))
        ir[0] += 1.0
        y = signal.fftconvolve(y.astype(np.float32), ir.astype(np.float32))[:n].astype(np.float64)
    fade = min(int(0.01 * sr), n // 2)
    y[:fade] *= np.linspace(0.0, 1.0, fade)
    y[n - fade:] *= np.linspace(1.0, 0.0, fade)
    rms = np.sqrt(np.mean(y**2))
    if rms > 0:
        y *= 10 ** (p.gain_db / 20) / rms
    peak = np.abs(y).max()
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def generate_clip(quadrant: str, seed: int, *, duration: float = 6.0, sr: int = 22050) -> np.ndarray:
    """A clip of a new song of `quadrant`: ``sample_song_params(quadrant, default_rng(seed))``, rendered.

    The same `seed` gives the same random draws whatever the quadrant, so clips of
    different quadrants made with one seed are correlated; use distinct seeds.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),), dtype=float32]
        Mono audio, peak <= 1.0.
    """
    params = sample_song_params(quadrant, np.random.default_rng(seed))
    return render(params, duration=duration, sr=sr, seed=seed)


def write_dataset(root: str | PathLike, *, n_per_quadrant: int = 30, clips_per_song: int = 2,
                  duration: float = 6.0, sr: int = 22050, seed: int = 0) -> list[tuple[Path, str, str]]:
    """Render a dataset into ``root/Q1..Q4/<song>_<k>.wav`` (16-bit PCM WAV).

    Songs are named ``syn-q1-s000``, ``syn-q1-s001``, ...; clip ``k`` of a song is its
    section ``k``. Each file is written atomically (temporary file in the same folder,
    then :func:`os.replace`) and existing files are kept, so an interrupted run
    resumes and a repeated one writes nothing.

    Parameters
    ----------
    root : str or PathLike
        Output folder, created if needed.
    n_per_quadrant : int > 0
        Clips (not songs) per quadrant; the last song may have fewer sections.
    clips_per_song : int > 0
        Sections rendered per song.
    duration, sr : float > 0, int > 0
        Clip length in seconds and sample rate in Hz.
    seed : int
        Seed of the whole set: the files are a deterministic function of the arguments.

    Returns
    -------
    list of (Path, str, str)
        ``(path, quadrant, song_id)`` per clip, ordered by quadrant, song, section.
    """
    import soundfile as sf

    _check_positive(n_per_quadrant=n_per_quadrant, clips_per_song=clips_per_song, duration=duration, sr=sr)
    for name, value in (("n_per_quadrant", n_per_quadrant), ("clips_per_song", clips_per_song), ("sr", sr)):
        if int(value) != value:
            raise ValueError(f"{name} must be an integer, got {value!r}")
    rows = []
    for qi, q in enumerate(QUADRANTS):
        folder = Path(root) / q
        folder.mkdir(parents=True, exist_ok=True)
        for s in range(math.ceil(n_per_quadrant / clips_per_song)):
            song_id, params = f"syn-{q.lower()}-s{s:03d}", None
            song_seed = int(np.random.SeedSequence([int(seed) % 2**63, qi, s]).generate_state(1)[0])
            for k in range(min(clips_per_song, int(n_per_quadrant) - s * int(clips_per_song))):
                path = folder / f"{song_id}_{k}.wav"
                if not path.exists():
                    params = params or sample_song_params(q, np.random.default_rng(song_seed))
                    y = render(params, duration=duration, sr=int(sr), seed=song_seed, section=k)
                    with atomic_open(path, "wb") as f:
                        sf.write(f, y, int(sr), format="WAV", subtype="PCM_16")
                rows.append((path, q, song_id))
    return rows
