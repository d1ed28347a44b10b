"""Labels and conventions of Russell's circumplex: the four quadrants, their names, mood words, valence / arousal.

One place for what every layer means by a label::

    Q1 happy / excited   (+valence, +arousal)     Q2 tense / angry  (-valence, +arousal)
    Q3 sad / depressed   (-valence, -arousal)     Q4 calm / relaxed (+valence, -arousal)

Valence and arousal are in [-1, 1]; :func:`valence_arousal` derives them from quadrant
probabilities (the right half of the circumplex minus the left, the upper minus the lower).
"""

from __future__ import annotations

from collections.abc import Mapping

#: The labels, in the order every model's outputs use.
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")

#: Quadrant descriptions on Russell's circumplex.
QUADRANT_NAMES = {
    "Q1": "happy / excited (+valence, +arousal)",
    "Q2": "tense / angry (-valence, +arousal)",
    "Q3": "sad / depressed (-valence, -arousal)",
    "Q4": "calm / relaxed (+valence, -arousal)",
}

#: Mood words accepted as labels, mapped to their quadrant.
MOOD_WORDS = {
    "Q1": ("happy", "happiness", "excited", "excitement", "joy", "joyful", "cheerful", "energetic", "elated"),
    "Q2": ("angry", "anger", "tense", "tension", "fear", "fearful", "anxious", "aggressive", "agitated", "scary"),
    "Q3": ("sad", "sadness", "depressed", "depression", "melancholic", "melancholy", "gloomy", "bored", "tired"),
    "Q4": ("calm", "relaxed", "relaxing", "peaceful", "serene", "tender", "content", "contented", "soothing"),
}
_LABEL_LOOKUP = {q.lower(): q for q in QUADRANTS} | {w: q for q, ws in MOOD_WORDS.items() for w in ws}


def normalise_label(name: str) -> str | None:
    """The quadrant a label or mood word names (``'Sad'`` -> ``'Q3'``), or None."""
    return _LABEL_LOOKUP.get(name.strip().lower())


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """(valence, arousal), each in [-1, 1], from quadrant probabilities; an absent label counts as 0::

        valence = P(Q1) + P(Q4) - P(Q2) - P(Q3)
        arousal = P(Q1) + P(Q2) - P(Q3) - P(Q4)
    """
    p = {q: float(probabilities.get(q, 0.0)) for q in QUADRANTS}
    return p["Q1"] + p["Q4"] - p["Q2"] - p["Q3"], p["Q1"] + p["Q2"] - p["Q3"] - p["Q4"]
