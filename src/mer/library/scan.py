"""``mer scan``: every audio file under some folders analysed into a library, incrementally and resumably.

What a scan does with each audio file found under `paths` (the files of
:func:`mer.workflows.predict.audio_files`: recursive, by extension, hidden files skipped):

* **unchanged** (same size and ``mtime_ns`` as its row, same model): skipped without
  reading a byte; a file whose stat changed but whose bytes did not (its BLAKE2b content
  hash equals the row's) only gets its stat updated;
* **moved or renamed** (a new path whose hash is that of a track whose file is gone): the
  track's path is updated, keeping its id and analysis;
* **duplicate** (bytes already analysed by the same model, at another path still
  present): the result is copied, not computed again; files with the same bytes that
  are all new are analysed once;
* **new or changed**: analysed (:func:`analyse_file`) and stored, one transaction per
  file (and its duplicates), as soon as it is done: a scan killed at any moment loses
  only the files being analysed, and the next one re-analyses only those;
* **failed**: stored with status ``failed`` and the one-line reason; the scan goes on
  (an unchanged failed file is not tried again, and stays in the report's failures);
* **analysed by another model** (the model id differs), or **without a similarity vector**
  (analysed before the library's schema 2): analysed again, replacing the result.

Tracks under `paths` whose file is gone (and that were not moved) get status
``missing``; their analysis is kept, and comes back if the bytes reappear anywhere.

Only this process writes the library: with ``jobs > 1`` worker processes
(:class:`mer.core.parallel.WorkerPool`) analyse and send back results; with
``scheduler=`` the workers of a Dask cluster do (each needs `mer` installed and the
files at the same paths), and this process, the client, writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from mer.core import parallel
from mer.core.errors import MerError
from mer.core.progress import progress_bar
from mer.library.db import Library, compress_timeline, open_library, utc_now
from mer.workflows.similarity import track_vector

#: Bytes read at a time when hashing a file.
HASH_CHUNK = 1 << 20

#: Column of a descriptor block holding the clip's tempo (BPM): ``<block name>:tempo``.
TEMPO_COLUMN = "tempo"

#: Sample rate (Hz) of the decoded audio librosa's beat tracker reads when the model has no tempo column.
BEAT_SR = 22050


def content_hash(path: str | PathLike) -> str:
    """BLAKE2b (32-byte digest) hex of a file's bytes, read in :data:`HASH_CHUNK` pieces."""
    h = hashlib.blake2b(digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def model_id(model_path: str | PathLike | None = None) -> str:
    """``<clip model name>@<12 hex digits>+<window model name>@<12 hex digits>``: what the library records per track.

    Each part is a model's name and the first 12 hex digits of its file's BLAKE2b: the name
    alone does not tell two trainings of one recipe apart; the file's bytes do. The track's
    answer comes from the clip model (`model_path`, default the shipped one), its timeline
    from the shipped window model (:func:`mer.workflows.analysis.load_models`), so a
    change of either analyses the library again.
    """
    from mer.models.modelfile import read_manifest
    from mer.workflows.predict import default_model_path

    from mer.workflows.timeline import timeline_model_path

    def one(path: Path) -> str:
        if not path.is_file():
            raise MerError("no such model file", path)
        return f"{read_manifest(path).get('name', path.stem)}@{content_hash(path)[:12]}"

    clip = one(Path(model_path) if model_path is not None else default_model_path())
    return clip if not timeline_model_path().is_file() else f"{clip}+{one(timeline_model_path())}"


_models: dict = {}


def _model(model_path: str | PathLike | None):
    """The analysis models (:class:`mer.workflows.analysis.Models`): the clip model at `model_path`
    (None: the shipped one) and the shipped window model, loaded once per process."""
    from mer.workflows.analysis import load_models

    key = None if model_path is None else str(model_path)
    if key not in _models:
        _models[key] = load_models(model_path)
    return _models[key]


# --------------------------------------------------------------------------- one file


def file_tags(path: str | PathLike) -> dict[str, str | None]:
    """``artist``, ``title``, ``album`` from the file's own tags (mutagen's easy interface); None where absent."""
    import mutagen

    out = dict.fromkeys(("artist", "title", "album"))
    try:
        tags = mutagen.File(path, easy=True)
    except Exception:  # mutagen raises many types on odd files; tags are optional
        return out
    if tags is None or tags.tags is None:
        return out
    for key in out:
        values = tags.tags.get(key) if hasattr(tags.tags, "get") else None
        if values:
            out[key] = str(values[0] if isinstance(values, list) else values)
    return out


def _beat_tempo(path: Path) -> float:
    """Tempo in BPM from librosa's beat tracker (a clip model without a tempo column)."""
    import librosa

    from mer.audio.decode import load

    tempo, _ = librosa.beat.beat_track(y=load(path, sr=BEAT_SR), sr=BEAT_SR)
    return float(tempo[0] if hasattr(tempo, "__len__") else tempo)


def _measured(models, path: Path, cache_dir, timeline_options: dict) -> dict:
    """The stored columns of one file's analysis (:data:`mer.library.db.RESULT_COLUMNS`), plus ``"timeline"``.

    One pass (:func:`mer.workflows.analysis.analyse`): the clip model's answer, the window
    model's timeline (the one ``mer timeline`` writes) and the tempo of the track's descriptors.
    """
    from mer.workflows.analysis import analyse

    result = analyse(path, models=models, cache_dir=cache_dir, **timeline_options)
    pred, tl = result.prediction, result.timeline.to_dict()
    probs = pred.probabilities or {}
    quality = pred.quality or {}
    summary = tl["summary"]
    opening, closing = summary.get("opening") or {}, summary.get("closing") or {}
    tempo = result.tempo_bpm if result.tempo_bpm is not None or "silent" in pred.flags else _beat_tempo(path)
    out = {
        "status": "ok", "quadrant": pred.quadrant,
        **{f"p_{q.lower()}": probs.get(q) for q in ("Q1", "Q2", "Q3", "Q4")},
        "valence": pred.valence, "arousal": pred.arousal, "flags": list(pred.flags),
        "tempo_bpm": tempo, "loudness_db": quality.get("rms_dbfs"), "duration_s": quality.get("duration_s"),
        "opening_valence": opening.get("valence"), "opening_arousal": opening.get("arousal"),
        "closing_valence": closing.get("valence"), "closing_arousal": closing.get("arousal"),
        "summary": summary, "error": None, "timeline": tl,
    }
    out["vector"] = track_vector(path, out, cache_dir=cache_dir)
    return out


def analyse_file(path: str | PathLike, *, model, cache_dir: str | PathLike | None = None,
                 timeline_options: dict | None = None) -> tuple[dict, bytes | None]:
    """Everything the library stores about one file; never raises for a bad file.

    Parameters
    ----------
    path : str or PathLike
    model : Models
        :func:`mer.workflows.analysis.load_models`'s result (clip and window model).
    cache_dir : path, optional
        Feature cache root for the musicnn patch outputs (:func:`mer.workflows.analysis.analyse`).
    timeline_options : dict, optional
        Keyword arguments of :func:`mer.workflows.timeline.timeline` (``window``, ``hop``...);
        default its own defaults.

    Returns
    -------
    result : dict
        Columns of :data:`mer.library.db.RESULT_COLUMNS` but ``content_hash``, ``model`` and
        ``scan_id``: the prediction (quadrant, ``p_q1``..``p_q4``, valence, arousal, flags),
        tempo (BPM), loudness (RMS dBFS), duration (s), the timeline's summary and its
        opening / closing valence and arousal, the file's artist / title / album,
        ``analysed_at``; or, for a file that failed, ``status="failed"`` and ``error``.
    timeline : bytes or None
        The whole timeline (:func:`mer.library.db.compress_timeline`); None on failure or
        for a model that makes no timeline.
    """
    path = Path(path)
    try:
        with parallel.budget_limit():
            result = _measured(model, path, cache_dir, dict(timeline_options or {}))
    except MerError as exc:  # messages from the batch functions already start with the path
        result = {"status": "failed", "error": str(exc) if str(exc).startswith(str(path)) else str(exc.with_path(path))}
    except Exception as exc:  # a library bug on one odd file must not end the scan
        reason = " ".join(str(exc).split())
        result = {"status": "failed", "error": f"{path}: unexpected {type(exc).__name__} ({reason})"}
    tl = result.pop("timeline", None)
    result.update(file_tags(path))
    result["analysed_at"] = utc_now()
    return result, (compress_timeline(tl) if tl is not None else None)


def _pool_task(path: str, model_path: str | None, cache_dir: str | None, timeline_options: dict,
               scratch: str) -> tuple[dict, str | None]:
    """A worker process's analysis; the timeline goes through a file in `scratch`.

    A worker answers with a few hundred bytes, which a pipe takes in one atomic write: a
    worker ended by Ctrl-C in the middle of a longer message could leave half of it in
    the pipe and block the parent's result reader (see :mod:`mer.extraction.batch`).
    """
    from mer.core.io import write_bytes

    result, tl = analyse_file(path, model=_model(model_path), cache_dir=cache_dir, timeline_options=timeline_options)
    if result.get("vector") is not None:  # 2 KB: through a file as well
        fd, vector_file = tempfile.mkstemp(dir=scratch, suffix=".vector")
        os.close(fd)
        write_bytes(vector_file, result.pop("vector"))
        result["vector_file"] = vector_file
    if tl is None:
        return result, None
    fd, name = tempfile.mkstemp(dir=scratch, suffix=".timeline")
    os.close(fd)
    write_bytes(name, tl)
    return result, name


def _cluster_task(path: str, model_path: str | None, timeline_options: dict) -> tuple[dict, bytes | None]:
    """A Dask worker's analysis (its own feature cache); the result comes back to the client."""
    return analyse_file(path, model=_model(model_path), timeline_options=timeline_options)


# --------------------------------------------------------------------------- planning


@dataclass
class _File:
    path: str
    size: int
    mtime_ns: int
    digest: str | None = None


@dataclass
class _Plan:
    """What a scan has to do, worked out from stat and hashes before any analysis."""

    found: int = 0
    skipped: int = 0
    moved: int = 0
    stat_updates: list = field(default_factory=list)   # (id, path, size, mtime_ns, digest)
    missing: list[int] = field(default_factory=list)    # track ids
    todo: dict[str, list[_File]] = field(default_factory=dict)  # digest -> files with those bytes
    unreadable: list[tuple[_File, str]] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _plan_file(f: _File, row, by_hash: dict, found: set, claimed: set, plan: _Plan, model: str) -> None:
    """Sort one found file into skipped / stat update / moved / to analyse (see the module docstring)."""
    current = row is not None and row["model"] == model and not row["no_vector"]  # no vector: analysed again
    if row is not None and (row["size"], row["mtime_ns"]) == (f.size, f.mtime_ns):
        f.digest = row["content_hash"]
        if current and f.digest is not None:
            if row["status"] == "missing":  # the same file back at its old path
                plan.stat_updates.append((row["id"], f.path, f.size, f.mtime_ns, None))
            plan.skipped += 1
            return
    if f.digest is None:
        f.digest = content_hash(f.path)
    if current and f.digest == row["content_hash"]:
        plan.stat_updates.append((row["id"], f.path, f.size, f.mtime_ns, f.digest))
        plan.skipped += 1
        return
    if row is None:
        gone = [r for r in by_hash.get(f.digest, ()) if r["id"] not in claimed and r["path"] not in found
                and not os.path.exists(r["path"])]
        if gone:
            claimed.add(gone[0]["id"])
            plan.stat_updates.append((gone[0]["id"], f.path, f.size, f.mtime_ns, f.digest))
            plan.moved += 1
            if gone[0]["model"] == model and not gone[0]["no_vector"]:
                return
    plan.todo.setdefault(f.digest, []).append(f)


def plan_scan(library: Library, files: Sequence[Path], roots: Sequence[str], model: str) -> _Plan:
    """Stat (and where needed hash) every found file against the library's rows."""
    known = library.known_files()
    by_hash: dict[str, list] = {}
    for row in known.values():
        by_hash.setdefault(row["content_hash"], []).append(row)
    stats, plan = {}, _Plan()
    for path in (os.path.abspath(p) for p in files):
        try:
            stats[path] = os.stat(path)
        except OSError as exc:  # e.g. a file named on the command line that is gone
            plan.failures.append((Path(path), str(MerError(f"cannot read ({exc.strerror or exc})", path))))
    found, claimed = set(stats), set()
    plan.found = len(found)
    for path, st in stats.items():
        f = _File(path, st.st_size, st.st_mtime_ns)
        try:
            _plan_file(f, known.get(path), by_hash, found, claimed, plan, model)
        except OSError as exc:
            plan.unreadable.append((f, str(MerError(f"cannot read ({exc.strerror or exc})", path))))
    plan.missing = [r["id"] for p, r in known.items() if r["status"] != "missing" and r["id"] not in claimed
                    and p not in found and _under(p, roots) and not os.path.exists(p)]
    return plan


# --------------------------------------------------------------------------- the scan


@dataclass
class ScanReport:
    """What one scan did.

    Attributes
    ----------
    db : Path
        The library file.
    scan_id : int
        The scan's row in the ``scans`` table.
    found : int
        Audio files found under the paths.
    analysed : int
        Files analysed now (one per set of identical files).
    skipped : int
        Unchanged files (same stat, or same bytes), not analysed.
    moved : int
        Files recognised by their bytes at a new path (not analysed).
    copied : int
        Files whose result was copied from a file with the same bytes.
    missing : int
        Tracks under the paths whose file is gone, now marked ``missing``.
    failed : int
        Files whose analysis failed in this scan (stored with status ``failed``).
    failures : list of (Path, str)
        Every file found that has no result: failed now, failed before and unchanged, or
        unreadable; one line each.
    wall_s : float
        Seconds the scan took.
    """

    db: Path
    scan_id: int
    found: int = 0
    analysed: int = 0
    skipped: int = 0
    moved: int = 0
    copied: int = 0
    missing: int = 0
    failed: int = 0
    failures: list[tuple[Path, str]] = field(default_factory=list)
    wall_s: float = 0.0

    def counts(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("found", "analysed", "skipped", "moved", "copied", "missing", "failed")}

    def to_dict(self) -> dict:
        return {"db": str(self.db), "scan_id": self.scan_id, **self.counts(),
                "failures": [{"path": str(p), "error": e} for p, e in self.failures], "wall_s": round(self.wall_s, 3)}


def _analyses(groups: dict[str, list[_File]], *, model_path, cache_dir, timeline_options, jobs: int,
              scheduler) -> Iterator[tuple[str, dict, bytes | None]]:
    """``(digest, result, timeline)`` of the first file of each group, as they finish."""
    if not groups:  # nothing to analyse: no model loaded, no worker started
        return
    if scheduler is not None:
        yield from _on_cluster(groups, model_path, timeline_options, scheduler)
    elif jobs <= 1 or len(groups) <= 1:
        model = _model(model_path)
        for digest, files in groups.items():
            yield (digest, *analyse_file(files[0].path, model=model, cache_dir=cache_dir,
                                         timeline_options=timeline_options))
    else:
        scratch = tempfile.mkdtemp(prefix="mer-scan-")
        try:
            with parallel.WorkerPool(jobs) as pool:
                futures = {pool.submit(_pool_task, files[0].path, None if model_path is None else str(model_path),
                                       None if cache_dir is None else str(cache_dir), timeline_options, scratch):
                           digest for digest, files in groups.items()}
                for fut in pool.as_completed(futures):
                    result, tl_file = fut.result()
                    tl = Path(tl_file).read_bytes() if tl_file else None
                    if "vector_file" in result:
                        result["vector"] = Path(result.pop("vector_file")).read_bytes()
                    yield futures[fut], result, tl
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _on_cluster(groups, model_path, timeline_options, scheduler):
    from distributed import Client
    from distributed import as_completed as completed

    from mer.extraction.batch import SCHEDULER_TIMEOUT

    try:
        client = scheduler if isinstance(scheduler, Client) else Client(scheduler, set_as_default=False,
                                                                         timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise MerError(f"cannot connect to the Dask scheduler at {scheduler} ({exc})") from None
    try:
        futures = {client.submit(_cluster_task, files[0].path, None if model_path is None else str(model_path),
                                 timeline_options, pure=False): digest for digest, files in groups.items()}
        for fut in completed(futures, loop=client.loop):
            digest = futures[fut]
            try:
                result, tl = fut.result()
            except Exception as exc:  # the worker died or the cluster went away
                result, tl = {"status": "failed", "analysed_at": utc_now(),
                              "error": f"{groups[digest][0].path}: not analysed on the cluster "
                                       f"({type(exc).__name__}: {exc})"}, None
            fut.release()
            yield digest, result, tl
    finally:
        if client is not scheduler:
            client.close()


def _store(library: Library, report: ScanReport, files: list[_File], result: dict, tl, model: str) -> None:
    """One transaction: `result` for every file with these bytes."""
    base = {**result, "model": model, "scan_id": report.scan_id}
    library.record([(f.path, f.size, f.mtime_ns, {**base, "content_hash": f.digest}, tl) for f in files])
    if result["status"] == "failed":
        report.failed += len(files)


def scan(paths: Sequence[str | PathLike], *, db: str | PathLike | Library | None = None,
         model: str | PathLike | None = None, jobs: int = 1, scheduler=None, cache_dir: str | PathLike | None = None,
         timeline_options: dict | None = None, progress: bool = True) -> ScanReport:
    """Analyse every audio file under `paths` into a library (see the module docstring).

    Parameters
    ----------
    paths : sequence of str or PathLike
        Files and folders (searched recursively).
    db : path or Library, optional
        The library (default :func:`mer.library.db.default_library_path`); created if missing.
    model : path, optional
        A ``.mer`` model (default: the shipped one).
    jobs : int
        Worker processes analysing files (1: in this process).
    scheduler : str or distributed.Client, optional
        Analyse on this Dask cluster instead (`jobs` is then ignored).
    cache_dir : path, optional
        Feature cache root (local analyses).
    timeline_options : dict, optional
        Keyword arguments of :func:`mer.workflows.timeline.timeline`.
    progress : bool
        A progress bar (files analysed, rate, time left).

    Returns
    -------
    ScanReport

    Raises
    ------
    MerError
        No audio file under `paths`, a bad model, a library that cannot be opened.
    mer.core.parallel.Interrupted
        Ctrl-C: what was stored stays; the next scan resumes.
    """
    from mer.workflows.predict import audio_files

    t0 = time.perf_counter()
    if isinstance(paths, (str, PathLike)):
        paths = [paths]
    if jobs < 1:
        raise MerError(f"jobs must be at least 1, got {jobs}")
    files, problems = audio_files(paths)
    if not files:
        raise MerError("no audio files to scan" + (f": {problems[0][1]}" if problems else ""))
    mid = model_id(model)
    with contextlib.ExitStack() as stack:
        library = db if isinstance(db, Library) else stack.enter_context(open_library(db))
        report = _run(library, files, [os.path.abspath(p) for p in paths], mid, model=model, jobs=jobs,
                      scheduler=scheduler, cache_dir=cache_dir, timeline_options=dict(timeline_options or {}),
                      progress=progress)
    report.failures = problems + report.failures
    report.wall_s = time.perf_counter() - t0
    return report


def _run(library: Library, files, roots, mid: str, *, model, jobs, scheduler, cache_dir, timeline_options,
         progress) -> ScanReport:
    report = ScanReport(library.path, library.begin_scan(paths=roots, model=mid))
    plan = plan_scan(library, files, roots, mid)
    report.found, report.skipped, report.moved, report.missing = plan.found, plan.skipped, plan.moved, len(plan.missing)
    library.update_stat(plan.stat_updates)
    library.mark_missing(plan.missing)
    for f, reason in plan.unreadable:
        _store(library, report, [f], {"status": "failed", "error": reason, "analysed_at": utc_now()}, None, mid)
    for digest in list(plan.todo):  # bytes the library already knows: copied, not analysed
        known = library.result_of(digest, mid)
        if known is not None:
            group = plan.todo.pop(digest)
            _store(library, report, group, known[0], known[1], mid)
            report.copied += len(group)
    done = 0
    try:
        with progress_bar("scan", total=len(plan.todo), enabled=progress, rate_unit="files") as advance:
            for digest, result, tl in _analyses(plan.todo, model_path=model, cache_dir=cache_dir,
                                                timeline_options=timeline_options, jobs=jobs, scheduler=scheduler):
                group = plan.todo[digest]
                _store(library, report, group, result, tl, mid)
                done += 1  # committed: counted before anything else can be interrupted
                report.analysed += 1
                report.copied += len(group) - 1
                advance()
    except KeyboardInterrupt:  # also an Interrupted from inside one file's analysis: its counts are not the scan's
        raise parallel.Interrupted(done, len(plan.todo)) from None
    library.end_scan(report.scan_id, report.counts())
    found = {os.path.abspath(f) for f in files}
    report.failures = plan.failures + [(Path(t.path), t.error or "failed") for t in library.failures()
                                       if t.path in found]
    return report
