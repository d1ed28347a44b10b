"""What ``POST /v1/analyze`` computes in a worker process: the one-pass analysis of one upload.

The answer (schema ``mer.analysis/1``) holds :meth:`Prediction.to_dict
<mer.workflows.predict.Prediction.to_dict>` and :meth:`Timeline.to_dict
<mer.workflows.timeline.Timeline.to_dict>` of :func:`mer.workflows.analysis.analyse`: the
track's answer of ``mer predict --format json`` and the timeline ``mer timeline`` writes and
``mer scan`` stores (the window model's, the same code), with ``path`` set to the upload's
name (the temporary file's path means nothing to the client and is never shown). The
file is decoded once per sample rate (16 kHz for musicnn, 22,050 Hz for the rest).
"""

from __future__ import annotations

from pathlib import Path

from mer.apps.service.pool import worker_model
from mer.core.errors import MerError

#: Version tag of the analysis answer.
ANALYSIS_SCHEMA = "mer.analysis/1"


def analyse_upload(path: str, name: str, cache_dir: str) -> dict:
    """Prediction and timeline of the file at `path` (run in a worker process).

    Parameters
    ----------
    path : str
        The upload, stored in a temporary folder.
    name : str
        The upload's own file name: what the answer and its errors call the file.
    cache_dir : str
        Feature cache for this upload only (inside its temporary folder, removed with it):
        uploads never fill the user's cache.

    Raises
    ------
    MerError
        The file cannot be analysed; the message names it by `name`.
    """
    from mer.workflows.analysis import analyse

    try:
        result = analyse(path, models=worker_model(), cache_dir=cache_dir)
    except MerError as exc:
        raise MerError(str(exc).replace(str(path), name)) from None
    prediction, tl = result.prediction.to_dict(), result.timeline.to_dict()
    prediction["path"] = tl["path"] = name
    return {"schema": ANALYSIS_SCHEMA, "name": name, "prediction": prediction, "timeline": tl}
