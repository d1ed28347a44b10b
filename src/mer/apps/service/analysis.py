"""What ``POST /v1/analyze`` computes in a worker process: ``mer predict`` and ``mer timeline`` of one upload.

The answer (schema ``mer.analysis/1``) holds :meth:`Prediction.to_dict
<mer.workflows.predict.Prediction.to_dict>` and :meth:`Timeline.to_dict
<mer.workflows.timeline.Timeline.to_dict>` unchanged, the same dictionaries ``mer predict
--format json`` and ``mer timeline`` write, with ``path`` set to the upload's name (the
temporary file's path means nothing to the client and is never shown).

Cost: the prediction goes through :func:`~mer.workflows.predict.predict_files` (signal
check, then each block of the recipe from the whole file, exactly as ``mer predict``),
the timeline through :func:`~mer.workflows.timeline.timeline` (the file streamed once per
sample rate, every window analysed); so a file is decoded once per feature family plus
once per rate of the timeline, not once. Sharing one decode would change the prediction
of long files (their descriptors are the mean of 30-s windows) and so break "same as
``mer predict``"; the decodes are a small part of the time (the musicnn embeddings of
every window dominate).
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
    from mer.workflows.predict import predict_files
    from mer.workflows.timeline import timeline

    model = worker_model()
    try:
        predictions, failures = predict_files(model, [Path(path)], cache_dir=cache_dir, progress=False)
        if failures:
            raise MerError(failures[0][1])
        tl = timeline(path, model=model).to_dict()
    except MerError as exc:
        raise MerError(str(exc).replace(str(path), name)) from None
    prediction = predictions[0].to_dict()
    prediction["path"] = tl["path"] = name
    return {"schema": ANALYSIS_SCHEMA, "name": name, "prediction": prediction, "timeline": tl}
