"""musicnn's analysis constants and tag names, importable without PyTorch.

Shared by :mod:`mer.features.embeddings` (inputs, pooling, configurations: no PyTorch at
import, so a run whose embeddings are cached never loads it) and
:mod:`mer.features.musicnn` (the network, which does).
"""

from __future__ import annotations

from pathlib import Path

#: Analysis parameters musicnn was trained with (``musicnn/configuration.py``).
MUSICNN_SR = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP = 256
MUSICNN_N_MELS = 96
#: Frames of one input patch: 3 s at 16 kHz, hop 256 (``librosa.time_to_frames(3) + 1``).
PATCH_FRAMES = 187

#: The 50 output tags of the MSD model, in output order.
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)

#: The 50 output tags of the MagnaTagATune model, in output order.
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo",
    "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)

#: Tag names of each shipped weights file (by stem).
TAGS = {"msd_musicnn": MSD_TAGS, "mtt_musicnn": MTT_TAGS}

#: Default location of the shipped, converted MSD weights.
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "resources" / "msd_musicnn.pt"

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon
