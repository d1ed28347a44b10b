"""A seeded generator of short music clips whose emotion quadrant shapes the music.

This is the embedded dataset of `mer`: the demo and the tests run on it without any
data. Each clip is a small four-part arrangement (melody, chords, bass and drums):

* Pitched parts use wavetable synthesis: one band-limited single-cycle table per
  timbre (random harmonic weights, rolloff set by *brightness*), read with a phase
  accumulator, shaped by an ADSR envelope and a low-pass filter (subtractive stage).
* Drums are a kick (sine with a falling pitch), a snare (band-passed noise plus a
  tone) and a hi-hat (high-passed noise), each rendered once and placed by slicing.
* Harmony is a chord progression built by stacking thirds on scale degrees, so the
  *mode* sets every chord quality; the bass follows chord roots; the melody is a
  mostly stepwise random walk over the scale, snapped to chord tones on chord
  changes, repeating a one-bar rhythmic motif.

The quadrant sets the *distributions* of the parameters (:func:`sample_song_params`),
never the parameters themselves:

========================  ====================  ====================
cue                       high arousal Q1, Q2   low arousal Q3, Q4
========================  ====================  ====================
tempo (BPM)               ~ 105-170             ~ 58-112
notes per beat, hi-hats   1-4, 8ths/16ths       0.5-2, none/4ths/8ths
articulation              staccato              legato, slow attack
loudness (RMS dBFS)       ~ -15                 ~ -25
========================  ====================  ====================

Valence: Q1/Q4 are major with probability 0.8, Q2/Q3 minor, phrygian or harmonic
minor with probability 0.8; Q2 adds dissonance (tritones and minor seconds in the
chords, chromatic melody notes, detuned doubled voices, saturation), Q1 is bright and
high, Q3 dark and low. Neighbouring distributions overlap, so no single cue separates
the quadrants. Key, timbre, progression and chord style are random per song;
``render(..., section=k)`` gives other passages (melody and rhythm) of the same song.

Everything is vectorised numpy (one Python iteration per note, never per sample):
a 6-s clip at 22,050 Hz renders in a few tens of milliseconds. Change
:data:`GENERATOR_VERSION` whenever the output for given arguments changes, so caches
of rendered sets are invalidated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
from scipy import signal

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")

#: Bumped whenever the audio produced for given arguments changes.
GENERATOR_VERSION = 1

#: Scales as semitones above the tonic.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
}
_PROGRESSIONS = {  # 0-based scale degrees, one chord per chord span
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4), (0, 2, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 5, 3, 4), (0, 3, 6, 2)),
    "phrygian": ((0, 1, 0, 6), (0, 1, 5, 1), (0, 6, 5, 1)),
}
_PROGRESSIONS["harmonic_minor"] = _PROGRESSIONS["minor"]

# Per-quadrant distributions: (low, high) for uniform draws, {value: probability} for choices.
_STYLE = {
    "Q1": dict(tempo=(108, 168), gain=(-16.5, -10.0), density={1: .25, 2: .5, 4: .25}, hats={2: .5, 4: .5},
               artic=(.22, .6), attack=(.003, .015), bright=(.55, .95), diss=(0, .2), drums=(.6, 1.),
               reverb=(.04, .2), register=(69, 79), modes={"major": .8, "minor": .2},
               chords={"stabs": .6, "arpeggio": .25, "pad": .15}),
    "Q2": dict(tempo=(105, 172), gain=(-15.0, -8.5), density={1: .3, 2: .45, 4: .25}, hats={2: .4, 4: .6},
               artic=(.2, .55), attack=(.002, .01), bright=(.5, 1.), diss=(.45, 1.), drums=(.7, 1.),
               reverb=(.03, .15), register=(60, 71),
               modes={"minor": .35, "phrygian": .3, "harmonic_minor": .15, "major": .2},
               chords={"stabs": .6, "arpeggio": .2, "pad": .2}),
    "Q3": dict(tempo=(58, 104), gain=(-29.0, -20.0), density={.5: .35, 1: .45, 2: .2}, hats={0: .5, 1: .3, 2: .2},
               artic=(.75, 1.), attack=(.03, .14), bright=(.05, .45), diss=(.05, .4), drums=(0., .5),
               reverb=(.2, .45), register=(55, 67), modes={"minor": .55, "harmonic_minor": .25, "major": .2},
               chords={"pad": .6, "arpeggio": .3, "stabs": .1}),
    "Q4": dict(tempo=(62, 112), gain=(-27.0, -18.0), density={.5: .3, 1: .45, 2: .25}, hats={0: .45, 1: .25, 2: .3},
               artic=(.7, 1.), attack=(.02, .1), bright=(.25, .65), diss=(0, .15), drums=(0., .45),
               reverb=(.2, .45), register=(64, 76), modes={"major": .8, "minor": .2},
               chords={"pad": .5, "arpeggio": .4, "stabs": .1}),
}
_TABLE_N = 2048
_N_HARMONICS = 12


@dataclass(frozen=True)
class SongParams:
    """Every musical parameter of one synthetic song.

    Attributes
    ----------
    quadrant : str
        The quadrant the parameters were drawn for (``"Q1"`` .. ``"Q4"``).
    tempo_bpm : float
        Tempo in beats per minute.
    key : int
        Tonic pitch class, 0 = C .. 11 = B.
    mode : str
        A key of :data:`SCALES`.
    register : int
        MIDI note of the melody's tonic (the bass and chords sit one and two
        octaves lower).
    gain_db : float
        Target RMS of the clip in dBFS (lowered only if the peak would exceed 1).
    density : float
        Melody grid in notes per beat (0.5, 1, 2 or 4).
    hat_subdivision : int
        Hi-hat hits per beat; 0 = no hi-hat.
    articulation : float
        Fraction of the inter-onset interval a note sounds, in (0, 1]: small is
        staccato, 1 is legato.
    attack : float
        ADSR attack time of melody and chords in seconds.
    brightness : float
        0..1; sets the harmonic rolloff of the timbres and the low-pass cutoff.
    dissonance : float
        0..1; probability of added tritones/minor seconds per chord, of chromatic
        melody notes, and the detuning (up to 25 cents) and saturation.
    drum_level : float
        0..1, gain of the drum kit (0 = no drums).
    reverb : float
        0..1, wet level of the reverb.
    chord_beats : int
        Beats per chord (2 or 4).
    chord_style : str
        ``"pad"`` (sustained), ``"stabs"`` (short hits) or ``"arpeggio"``.
    progression : tuple of int
        Chord roots as 0-based scale degrees.
    lead_harmonics, pad_harmonics : tuple of float
        Relative amplitudes of harmonics 1..12 of the melody and chord timbres.
    """

    quadrant: str
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
        if not self.tempo_bpm > 0:
            raise ValueError(f"tempo_bpm must be positive, got {self.tempo_bpm!r}")


def _check_quadrant(quadrant) -> None:
    if quadrant not in QUADRANTS:
        raise ValueError(f"unknown quadrant {quadrant!r}; expected one of {', '.join(QUADRANTS)}")


def _check_positive(**values) -> None:
    for name, v in values.items():
        if not (isinstance(v, (int, float, np.integer, np.floating)) and v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive number, got {v!r}")


def _choice(rng: np.random.Generator, table: dict):
    keys = list(table)
    return keys[rng.choice(len(keys), p=np.asarray(list(table.values()), float) / sum(table.values()))]


def _harmonics(rng: np.random.Generator, brightness: float, extra_rolloff: float) -> tuple[float, ...]:
    """Random harmonic weights: rolloff ~ h**-(2.3 - 1.6*brightness), jittered, sometimes hollow (odd only)."""
    h = np.arange(1, _N_HARMONICS + 1)
    w = h ** -(2.3 - 1.6 * brightness + extra_rolloff) * rng.uniform(0.5, 1.5, h.size)
    if rng.random() < 0.3:
        w[1::2] *= 0.15
    w[0] = 1.0
    return tuple(round(float(x), 4) for x in w)


def sample_song_params(quadrant: str, rng: np.random.Generator) -> SongParams:
    """Draw the parameters of one song from the distributions of `quadrant`.

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
    s = _STYLE[quadrant]
    u = lambda lo_hi: float(rng.uniform(*lo_hi))  # noqa: E731
    tempo = u(s["tempo"])
    mode = _choice(rng, s["modes"])
    key = int(rng.integers(12))
    center = int(rng.integers(s["register"][0], s["register"][1] + 1))
    register = center - ((center - key) % 12 if (center - key) % 12 < 6 else (center - key) % 12 - 12)
    brightness = u(s["bright"])
    pool = _PROGRESSIONS[mode]
    return SongParams(
        quadrant=quadrant, tempo_bpm=round(tempo, 2), key=key, mode=mode, register=register,
        gain_db=round(u(s["gain"]), 2), density=float(_choice(rng, s["density"])),
        hat_subdivision=int(_choice(rng, s["hats"])), articulation=round(u(s["artic"]), 3),
        attack=round(u(s["attack"]), 4), brightness=round(brightness, 3), dissonance=round(u(s["diss"]), 3),
        drum_level=round(u(s["drums"]), 3), reverb=round(u(s["reverb"]), 3),
        chord_beats=4 if tempo >= 90 or rng.random() < 0.4 else 2, chord_style=_choice(rng, s["chords"]),
        progression=tuple(int(d) for d in pool[rng.integers(len(pool))]),
        lead_harmonics=_harmonics(rng, brightness, 0.0), pad_harmonics=_harmonics(rng, brightness, 0.5),
    )


# ----------------------------------------------------------------------------- synthesis

class _Voice:
    """A wavetable instrument writing ADSR-shaped notes into a buffer."""

    def __init__(self, buf, sr, harmonics, rng, attack, decay=0.15, sustain=0.7, release=0.08, detune=0.0):
        self.buf, self.sr, self.rng = buf, sr, rng
        self.weights = np.asarray(harmonics, float)
        self.attack, self.decay, self.sustain, self.release, self.detune = attack, decay, sustain, release, detune
        self._tables: dict[int, np.ndarray] = {}

    def _table(self, n_harm: int) -> np.ndarray:
        if n_harm not in self._tables:
            x = np.arange(_TABLE_N) / _TABLE_N
            h = np.arange(1, n_harm + 1)[:, None]
            t = (self.weights[:n_harm, None] * np.sin(2 * np.pi * h * x)).sum(0)
            self._tables[n_harm] = t / np.abs(t).max()
        return self._tables[n_harm]

    def note(self, t0: float, dur: float, midi, vel: float = 1.0) -> None:
        """Add one note (or a chord if `midi` is a sequence) starting at `t0` s, sounding `dur` s."""
        sr, n = self.sr, self.buf.size
        start = int(round(t0 * sr))
        if start >= n or start < 0:
            return
        freqs = 440.0 * 2.0 ** ((np.atleast_1d(np.asarray(midi, float)) - 69) / 12)
        if self.detune:
            cents = 2.0 ** (self.detune / 1200)
            freqs = np.concatenate([freqs * cents, freqs / cents])
        a, d, r = (max(int(x * sr), 1) for x in (self.attack, self.decay, self.release))
        hold = max(int(dur * sr), a + d + 1)
        length = min(hold + r, n - start)
        k = np.arange(length)
        n_harm = int(np.clip(0.45 * sr / freqs.max(), 1, self.weights.size))
        phase = (np.outer(freqs / sr, k) + self.rng.random((freqs.size, 1))) % 1.0
        wave = self._table(n_harm)[(phase * _TABLE_N).astype(np.intp)].sum(0) / freqs.size
        env = np.interp(k, [0, a, a + d, hold, hold + r], [0, 1, self.sustain, self.sustain, 0])
        self.buf[start:start + length] += vel * env * wave


def _drum_kit(sr: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot samples: kick (pitch-dropping sine), snare (noise + tone), hi-hat (high-passed noise)."""
    t = np.arange(int(0.35 * sr)) / sr
    f = 45 + 110 * np.exp(-t / 0.03)
    kick = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)
    ts = t[: int(0.2 * sr)]
    band = signal.butter(2, [1000, min(5000, 0.45 * sr)], "bandpass", fs=sr, output="sos")
    snare = 0.7 * signal.sosfilt(band, rng.standard_normal(ts.size)) * np.exp(-ts / 0.06)
    snare += 0.5 * np.sin(2 * np.pi * 190 * ts) * np.exp(-ts / 0.04)
    th = t[: int(0.08 * sr)]
    high = signal.butter(2, min(6000, 0.4 * sr), "highpass", fs=sr, output="sos")
    hat = signal.sosfilt(high, rng.standard_normal(th.size)) * np.exp(-th / 0.02)
    return {k: v / np.abs(v).max() for k, v in (("kick", kick), ("snare", snare), ("hat", hat))}


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
        Seed of the note-level choices (melody, rhythm, voicings, noise).
    section : int
        Which passage of the song: different sections share the song's style but
        differ in melody, rhythm and starting chord.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),), dtype=float32]
        Mono audio, peak <= 1.0.
    """
    _check_positive(duration=duration, sr=sr)
    sr = int(sr)
    n = int(round(duration * sr))
    p = params
    rng = np.random.default_rng([int(seed) % 2**63, int(section) % 2**63, 0x5EC])
    beat = 60.0 / p.tempo_bpm
    n_beats = int(duration / beat) + 2
    scale = SCALES[p.mode]
    tonic = p.register

    bass_tonic = 33 + (p.key - 33) % 12  # A1 .. G#2

    def midi(degree: int, base: int = tonic) -> int:
        return base + scale[degree % 7] + 12 * (degree // 7)

    jitter = 0.004 if p.articulation < 0.65 else 0.012  # humanised timing, seconds
    lead_buf, chord_buf, bass_buf, drum_buf = (np.zeros(n) for _ in range(4))
    detune = 25.0 * p.dissonance if p.dissonance > 0.3 else 0.0
    slow = p.articulation >= 0.65
    lead = _Voice(lead_buf, sr, p.lead_harmonics, rng, p.attack, decay=0.2, sustain=0.6 if slow else 0.4,
                  release=0.25 if slow else 0.05, detune=detune)
    pad = _Voice(chord_buf, sr, p.pad_harmonics, rng, p.attack * (3 if p.chord_style == "pad" else 1),
                 sustain=0.8, release=0.4 if slow else 0.06, detune=max(detune, 6.0))
    bass = _Voice(bass_buf, sr, (1, .5, .25, .12, .05), rng, 0.005, decay=0.2, sustain=0.6,
                  release=0.1 if slow else 0.03)

    # --- harmony: one chord per span, starting chord depends on the section
    offset = (section * 2) % len(p.progression)
    n_spans = n_beats // p.chord_beats + 1
    roots = [p.progression[(i + offset) % len(p.progression)] for i in range(n_spans)]
    seventh = p.quadrant == "Q4" and rng.random() < 0.5
    for i, root in enumerate(roots):
        t0 = i * p.chord_beats * beat
        degs = [root - 7, root - 5, root - 3] + ([root - 1] if seventh else [])
        notes = [midi(d) for d in degs]
        if rng.random() < p.dissonance:  # tritone or minor-second cluster
            notes.append(notes[0] + int(rng.choice([1, 6, 13, 18])))
        if p.chord_style == "pad":
            pad.note(t0, p.chord_beats * beat * (0.5 + 0.5 * p.articulation), notes, 0.9)
        elif p.chord_style == "stabs":
            step = 1.0 if rng.random() < 0.5 else 0.5
            for b in np.arange(0, p.chord_beats, step):
                pad.note(t0 + (b + (0.5 if step == 1.0 and rng.random() < 0.3 else 0)) * beat,
                         step * beat * p.articulation, notes, 0.8 + 0.2 * (b == 0))
        else:
            step = 0.5 if p.tempo_bpm < 120 else 1.0
            for j, b in enumerate(np.arange(0, p.chord_beats, step)):
                pad.note(t0 + b * beat, step * beat * (0.6 + 0.8 * p.articulation), notes[j % 3] + 12, 0.6)
        # bass on the root
        bstep = {True: 2.0 if p.tempo_bpm < 80 else 4.0 / max(1, p.chord_beats // 2),
                 False: 0.5 if p.quadrant == "Q2" and rng.random() < 0.6 else 1.0}[slow]
        for j, b in enumerate(np.arange(0, p.chord_beats, bstep)):
            octave = 12 if not slow and j % 2 == 1 and rng.random() < 0.3 else 0
            bass.note(t0 + b * beat, bstep * beat * p.articulation, midi(root, bass_tonic) + octave,
                      0.9 if j == 0 else 0.75)

    # --- melody: a one-bar rhythmic motif, repeated with variations; stepwise pitch walk
    cell = 1.0 / p.density
    grid = np.arange(0, 4, cell)
    motif = grid[np.r_[True, rng.random(grid.size - 1) < 0.75]]
    deg, onsets = int(rng.integers(0, 5)), []
    for bar in range(n_beats // 4 + 1):
        if rng.random() < 0.3:
            motif = grid[np.r_[True, rng.random(grid.size - 1) < 0.75]]
        onsets.extend(bar * 4 + motif)
    onsets = np.asarray(onsets)
    iois = np.diff(np.r_[onsets, onsets[-1] + cell])
    steps = rng.choice([-3, -2, -1, 0, 1, 2, 3], size=onsets.size, p=[.03, .12, .3, .1, .3, .12, .03])
    for b, ioi, step in zip(onsets, iois, steps):
        span = int(b // p.chord_beats)
        if b % p.chord_beats == 0 and span < len(roots):  # land on a chord tone at chord changes
            tones = [roots[span] + k for k in (-7, -5, -3, 0, 2, 4, 7, 9)]
            deg = min(tones, key=lambda x: abs(x - deg))
        else:
            deg += int(step)
        deg = min(max(deg, -2), 9)
        m = midi(deg)
        if b % 1 != 0 and rng.random() < 0.35 * p.dissonance:
            m += int(rng.choice([-1, 1, 6]))
        t0 = b * beat + rng.normal(0, jitter)
        lead.note(max(t0, 0.0), min(ioi, 2.0) * beat * p.articulation, m, rng.uniform(0.7, 1.0))

    # --- drums
    kit = _drum_kit(sr, rng)
    if p.drum_level > 0.05:
        for b in range(n_beats):
            pos, t0 = b % 4, b * beat
            if slow:
                kick = pos == 0 or (pos == 2 and rng.random() < 0.4)
                snare = pos == 2 and rng.random() < 0.7
            else:
                kick = pos in (0, 2) or rng.random() < 0.15
                snare = pos in (1, 3)
                if rng.random() < (0.35 if p.quadrant == "Q2" else 0.2):
                    _place(drum_buf, kit["kick"], t0 + 0.5 * beat, sr, 0.7)
            if kick:
                _place(drum_buf, kit["kick"], t0, sr, 1.0)
            if snare:
                _place(drum_buf, kit["snare"], t0 + rng.normal(0, jitter / 2), sr, 0.7 if not slow else 0.45)
            for h in range(p.hat_subdivision):
                _place(drum_buf, kit["hat"], t0 + h * beat / p.hat_subdivision, sr,
                       (0.35 if h == 0 else 0.22) * rng.uniform(0.8, 1.0))

    # --- mix: saturation, low-pass (brightness), reverb, loudness
    tonal = 0.32 * lead_buf + 0.22 * chord_buf + 0.38 * bass_buf
    drive = 1.0 + 5.0 * max(0.0, p.dissonance - 0.4)
    if drive > 1.0:
        tonal = np.tanh(drive * tonal) / drive
    cutoff = min(1200.0 * 2 ** (3.0 * p.brightness), 0.45 * sr)
    tonal = signal.sosfilt(signal.butter(2, cutoff, "lowpass", fs=sr, output="sos"), tonal)
    y = tonal + 0.45 * p.drum_level * drum_buf
    if p.reverb > 0:
        tail = np.arange(int(0.9 * sr)) / sr
        ir = rng.standard_normal(tail.size) * np.exp(-tail / (0.15 + 0.6 * p.reverb))
        ir *= p.reverb / np.sqrt(np.sum(ir ** 2))
        ir[0] += 1.0
        y = signal.oaconvolve(y, ir)[:n]
    fade = min(int(0.01 * sr), n // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[n - fade:] *= ramp[::-1]
    rms = np.sqrt(np.mean(y ** 2))
    if rms > 0:
        y *= 10 ** (p.gain_db / 20) / rms
    peak = np.abs(y).max(initial=0.0)
    if peak > 0.99:
        y *= 0.99 / peak
    return y.astype(np.float32)


def generate_clip(quadrant: str, seed: int, *, duration: float = 6.0, sr: int = 22050) -> np.ndarray:
    """A clip of a new song of `quadrant`: parameters drawn with ``default_rng(seed)``, then rendered.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),), dtype=float32]
    """
    _check_quadrant(quadrant)
    params = sample_song_params(quadrant, np.random.default_rng(seed))
    return render(params, duration=duration, sr=sr, seed=seed)


def write_dataset(root: str | PathLike, *, n_per_quadrant: int = 30, clips_per_song: int = 2,
                  duration: float = 6.0, sr: int = 22050, seed: int = 0) -> list[tuple[Path, str, str]]:
    """Render a dataset into ``root/Q1..Q4/<song>_<k>.wav``.

    Songs are named ``syn-q1-s000``, ``syn-q1-s001``, ...; clip ``k`` of a song is its
    section ``k``. Each quadrant gets `n_per_quadrant` clips (the last song may have
    fewer than `clips_per_song`). WAVs are 16-bit PCM, written atomically; existing
    files are kept, so an interrupted run resumes and a repeated one writes nothing.

    Parameters
    ----------
    root : str or PathLike
        Output folder (created).
    n_per_quadrant : int > 0
        Clips (not songs) per quadrant.
    clips_per_song : int > 0
        Sections rendered per song.
    duration : float > 0
        Clip length in seconds.
    sr : int > 0
        Sample rate in Hz.
    seed : int
        Seed of the whole set; the output is a deterministic function of the arguments.

    Returns
    -------
    list of (Path, str, str)
        ``(path, quadrant, song_id)`` per clip, by quadrant, song and section.
    """
    from mer._io import atomic_open
    import soundfile as sf

    _check_positive(n_per_quadrant=n_per_quadrant, clips_per_song=clips_per_song, duration=duration, sr=sr)
    for name, v in (("n_per_quadrant", n_per_quadrant), ("clips_per_song", clips_per_song), ("sr", sr)):
        if int(v) != v:
            raise ValueError(f"{name} must be an integer, got {v!r}")
    root = Path(root)
    rows = []
    for qi, q in enumerate(QUADRANTS):
        folder = root / q
        folder.mkdir(parents=True, exist_ok=True)
        for s in range(math.ceil(n_per_quadrant / clips_per_song)):
            song_id = f"syn-{q.lower()}-s{s:03d}"
            song_seed = int(np.random.SeedSequence([int(seed) % 2**63, qi, s]).generate_state(1)[0])
            params = None
            for k in range(min(clips_per_song, n_per_quadrant - s * clips_per_song)):
                path = folder / f"{song_id}_{k}.wav"
                if not path.exists():
                    params = params or sample_song_params(q, np.random.default_rng(song_seed))
                    y = render(params, duration=duration, sr=int(sr), seed=song_seed, section=k)
                    with atomic_open(path, "wb") as f:
                        sf.write(f, y, int(sr), format="WAV", subtype="PCM_16")
                rows.append((path, q, song_id))
    return rows
