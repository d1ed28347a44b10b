"""mer: music emotion recognition on Russell's circumplex.

Audio -> features -> model -> prediction, each a module:
:mod:`mer.audio` (decoding), :mod:`mer.features` (the paper's 204 rows),
:mod:`mer.preprocessing` (modelling transforms), :mod:`mer.cache` and
:mod:`mer.extraction` (cached, parallel extraction), :mod:`mer.datasets`
(layouts, labels, groups), :mod:`mer.synthetic` (the embedded dataset).
"""

from mer.errors import MerError

__version__ = "0.1.0"
__all__ = ["MerError", "__version__"]
