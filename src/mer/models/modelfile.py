"""The ``.mer`` model file: one trained model, self-describing, safe to load.

A ``.mer`` file is a zip archive with:

* ``manifest.json`` — ``format: "mer-model"``, ``schema_version``, ``kind``
  (``"sequence"`` or ``"summary"``), the model name (recipe), label names, the
  :class:`~mer.features.paper.FeatureConfig` the features must be extracted with, the
  estimator's parameters, and training metadata (data set, clip counts, CV metrics,
  versions of mer / torch / scikit-learn / librosa / numpy / python, date); plus the
  SHA-256 of every other member.
* ``weights.npz`` (sequence models) — the network's ``state_dict`` and the fitted
  preprocessing statistics as plain numeric arrays.
* ``pipeline.npz`` (recipe models, schema 2) — the fitted numbers of the recipe's
  three steps (scaler means and scales, selection scores, logistic weights), from
  which the scikit-learn pipeline is rebuilt attribute by attribute.
* ``estimator.skops`` (classic baselines, and recipe models of schema 1) — the fitted
  scikit-learn pipeline in skops' format.
* ``affect.npz`` (optional, recipe models) — the valence / arousal head
  (:class:`mer.models.affect.AffectHead`: per axis the standardisation, the selected
  columns, the ridge weights and intercept, the blend weight), shapes checked on load;
  the card's ``affect`` entry says how it was fitted and measured. Without it valence
  and arousal are the quadrant probability differences. A file with a head still loads
  in a `mer` that does not know heads (it ignores the member), so the schema is unchanged.

How the format stays safe: nothing in a ``.mer`` file is unpickled. JSON is data;
``weights.npz`` is read with ``numpy.load(allow_pickle=False)``, which refuses object
arrays; the scikit-learn pipeline is rebuilt by ``skops.io.loads``, which
constructs only types it is told to trust and never runs pickle's arbitrary
``__reduce__`` code. We trust skops' own default list (scikit-learn, numpy and
scipy types it vets) plus the explicit :data:`TRUSTED_TYPES`; a file naming any
other type is refused with an error listing it. Members are read by name into
memory, never extracted to disk, and checked against the manifest's checksums.

Errors — not a zip, no manifest, another format, a newer schema, a checksum
mismatch, an untrusted type — are one-line :class:`~mer.core.errors.MerError` naming
the file. Writes are atomic (:mod:`mer.core.io`).
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import json
import platform
import zipfile
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from mer.core.errors import MerError
from mer.core.io import atomic_open
from mer.features.paper import FeatureConfig

FORMAT = "mer-model"

#: Bumped whenever a file written now could not be read by an older `mer`. 2: recipe models
#: store their pipeline as plain arrays (:data:`RECIPE_ARRAYS`) instead of skops; 3: a recipe
#: may be routed (:data:`ROUTED_ARRAYS`). Files of schema 1 and 2 still load.
SCHEMA_VERSION = 3

#: The member holding a recipe model's fitted numbers (schema 2); of a routed recipe, its general expert's.
RECIPE_ARRAYS = "pipeline.npz"

#: The further members of a routed recipe (:class:`mer.models.routing.RoutedClassifier`, schema 3):
#: role -> member, each a recipe's arrays like :data:`RECIPE_ARRAYS`.
ROUTED_ARRAYS = {"specialist": "specialist.npz", "gate": "gate.npz"}

#: The optional member holding a recipe model's valence / arousal head (:class:`mer.models.affect.AffectHead`).
AFFECT_ARRAYS = "affect.npz"

#: Card (metadata) key listing the SHA-256 of every training clip's file bytes
#: (:func:`mer.core.cache.file_digest`), sorted; lets `mer evaluate` warn about overlap.
TRAINING_HASHES = "training_sha256"

#: Types trusted on top of skops' defaults when rebuilding a baseline (exact names):
#: the fitted parts of mer.models.baselines' pipelines that skops does not trust by default.
TRUSTED_TYPES = (
    "sklearn.feature_selection._univariate_selection.f_classif",  # the recipe's ANOVA-F selection
    "sklearn.tree._tree.Tree",  # random forest, AdaBoost
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",  # MLP
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.neighbors._kd_tree.KDTree",  # kNN, when it picks a tree
    "sklearn.neighbors._ball_tree.BallTree",
)


def _versions() -> dict:
    import librosa
    import sklearn
    import torch

    from mer.core.version import __version__

    return {"mer": __version__, "torch": torch.__version__, "sklearn": sklearn.__version__,
            "librosa": librosa.__version__, "numpy": np.__version__, "python": platform.python_version()}


@dataclass
class TrainedModel:
    """A fitted estimator with everything needed to use it on new audio.

    Attributes
    ----------
    estimator : SequenceClassifier or SummaryClassifier
        Fitted; ``estimator.classes_`` are the label names.
    name : str
        The recipe it was made from (e.g. ``'lstm'``, ``'paper-rnn'``, ``'logreg-flat'``).
    feature_config : FeatureConfig
        Features must be extracted with this configuration.
    metadata : dict
        Training data, CV metrics, versions, date (free-form, JSON-ready).
    """

    estimator: object
    name: str
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    metadata: dict = field(default_factory=dict)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self.estimator.classes_)

    #: For ``kind == "recipe"``: the per-clip input blocks, ``[(name, DescriptorConfig |
    #: EmbeddingConfig), ...]`` (:func:`mer.extraction.inputs.clip_inputs`); None for feature models.
    inputs: list | None = None

    #: For ``kind == "recipe"``: the valence / arousal head (:class:`mer.models.affect.AffectHead`),
    #: or None (valence and arousal are then the quadrant probability differences).
    affect: object | None = None

    @property
    def kind(self) -> str:
        from mer.models.baselines import SummaryClassifier
        from mer.models.recipe import EmotionClassifier
        from mer.models.routing_fit import RoutedClassifier

        if isinstance(self.estimator, (EmotionClassifier, RoutedClassifier)):
            return "recipe"
        return "summary" if isinstance(self.estimator, SummaryClassifier) else "sequence"

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities (n, len(labels)) for a sequence of (204, T) feature matrices, or recipe input rows."""
        return np.asarray(self.estimator.predict_proba(self.classifier_rows(X)))

    def predict(self, X) -> np.ndarray:
        return np.asarray(self.estimator.predict(self.classifier_rows(X)))

    def without_listener(self) -> "TrainedModel":
        """This model as its classifier and mer's own valence / arousal head: a copy without the
        listener-rated heads and their input block (the model itself when it has none).

        Studies fit and score classifiers on these inputs; the heads are attached to a shipped
        model afterwards (:mod:`mer.study.listener`).
        """
        if getattr(self.affect, "listener", None) is None:
            return self
        import copy

        from mer.features.blocks import LISTENER_BLOCK_NAME

        out = copy.copy(self)
        out.inputs = [(name, cfg) for name, cfg in self.inputs if name != LISTENER_BLOCK_NAME]
        out.affect = self.affect.with_listener(None)
        return out

    def classifier_rows(self, X):
        """The columns of recipe input rows that the classifier reads: all of them, unless the rows also
        carry the listener block of the valence / arousal head (:class:`mer.models.affect.ListenerBlend`),
        which follows the classifier's columns."""
        listener = getattr(self.affect, "listener", None)
        if listener is None or getattr(X, "ndim", 0) != 2 or X.shape[1] != self.affect.n_inputs:
            return X
        return X[:, :self.affect.n_columns]

    def affect_regression(self, X) -> np.ndarray | None:
        """The head's regression of valence and arousal, shape (n, 2); None for a model without a head."""
        return None if self.affect is None else self.affect.regress(X)

    def valence_arousal(self, P, regression=None) -> np.ndarray:
        """Valence and arousal in [-1, 1], shape (n, 2), from probabilities P of shape (n, len(labels)).

        With a head: its blend of `regression` (:meth:`affect_regression` of the same rows,
        possibly smoothed over time; required) and the probability differences; without
        one: the probability differences (:func:`mer.core.labels.valence_arousal`).
        """
        from mer.models.affect import probability_affect

        if self.affect is None:
            return probability_affect(P, self.labels)
        if regression is None:
            raise MerError("this model's valence / arousal head needs the regression of the same rows")
        return self.affect.combine(regression, P, self.labels)


def save(model: TrainedModel, path: str | PathLike) -> Path:
    """Write `model` to `path` (a ``.mer`` zip), atomically. Returns the path."""
    path = Path(path)
    members: dict[str, bytes] = {}
    if model.kind == "sequence":
        est_meta, arrays = model.estimator.get_state()
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        members["weights.npz"] = buf.getvalue()
        est_meta["class"] = "SequenceClassifier"
    elif model.kind == "recipe":
        est_meta, recipe_members = _recipe_state(model.estimator)
        members.update(recipe_members)
        est_meta["inputs"] = [[name, type(cfg).__name__, cfg.to_dict()] for name, cfg in (model.inputs or [])]
        if model.affect is not None:
            members[AFFECT_ARRAYS] = _affect_arrays(model.affect)
    else:
        import skops.io

        est = model.estimator
        members["estimator.skops"] = skops.io.dumps(est.pipeline_)
        est_meta = {"class": "SummaryClassifier", "params": _jsonable(est.get_params()),
                    "classes": list(model.labels), "n_features_in": int(est.n_features_in_),
                    "fit_warnings": list(getattr(est, "fit_warnings_", []))}
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "kind": model.kind,
        "name": model.name,
        "labels": list(model.labels),
        "feature_config": model.feature_config.to_dict(),
        "estimator": est_meta,
        "metadata": {"saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                     "versions": _versions(), **model.metadata},
        "checksums": {k: hashlib.sha256(v).hexdigest() for k, v in members.items()},
    }
    with atomic_open(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("manifest.json", json.dumps(_jsonable(manifest), indent=2))
            for name, data in members.items():
                z.writestr(name, data)
    return path


def _jsonable(obj):
    """Tuples to lists, numpy scalars to Python, recursively (JSON round-trips then compare equal)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def read_manifest(path: str | PathLike) -> dict:
    """The manifest of a ``.mer`` file, validated (format, schema version)."""
    with _open(path) as z:
        return _manifest(z, path)


def default_model_path() -> Path:
    """The model shipped inside the package (``mer/resources/default.mer``)."""
    from importlib.resources import files

    return Path(str(files("mer") / "resources" / "default.mer"))


def update_metadata(path: str | PathLike, metadata: dict) -> dict:
    """Merge `metadata` into the card of a ``.mer`` file, rewriting only ``manifest.json``, atomically.

    Every other member keeps its bytes (and so its checksum), name, date and
    compression; the model predicts exactly as before. For adding facts to a card
    after training (e.g. the training clips' hashes) without refitting. Returns the
    new manifest.
    """
    return _rewrite(path, metadata, {})


def set_affect_head(path: str | PathLike, head, card: dict) -> dict:
    """Add (or replace) the valence / arousal head of a recipe ``.mer`` file, atomically.

    Writes ``affect.npz`` (:class:`mer.models.affect.AffectHead`'s arrays, shapes checked
    against the model's inputs first) and `card` as the card's ``affect`` entry; every
    other member keeps its bytes, so the quadrant probabilities stay bitwise the same.
    Returns the new manifest.
    """
    model = load(path)
    if model.kind != "recipe":
        raise MerError(f"only recipe models take a valence / arousal head (this one is '{model.kind}')", path)
    listener = getattr(model.affect, "listener", None)
    if listener is not None and getattr(head, "listener", None) is None:  # the file's heads stay with it
        head = head.with_listener(listener)
        card = {**card, "listener": model.metadata.get("affect", {}).get("listener")}
    blob = _affect_arrays(head)
    _load_affect(blob, model._arrays.n_columns if hasattr(model, "_arrays") else
                 model.estimator.pipeline_.named_steps["scale"].n_features_in_, path)
    return _rewrite(path, {"affect": card}, {AFFECT_ARRAYS: blob})


def _rewrite(path, metadata: dict, new_members: dict[str, bytes]) -> dict:
    """Rewrite a ``.mer`` file with `metadata` merged into its card and `new_members` added or replaced."""
    with _open(path) as z:
        manifest = _manifest(z, path)
        members = [(info, _read(z, info.filename, path)) for info in z.infolist()
                   if info.filename != "manifest.json" and info.filename not in new_members]
        manifest_info = z.getinfo("manifest.json")
    for info, data in members:
        if manifest.get("checksums", {}).get(info.filename) not in (None, hashlib.sha256(data).hexdigest()):
            raise MerError(f"corrupt model file (checksum of {info.filename} does not match)", path)
    manifest["metadata"] = {**manifest.get("metadata", {}), **_jsonable(metadata)}
    manifest["checksums"] = {**manifest.get("checksums", {}),
                             **{k: hashlib.sha256(v).hexdigest() for k, v in new_members.items()}}
    with atomic_open(path, "wb") as f:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr(manifest_info, json.dumps(_jsonable(manifest), indent=2))
            for info, data in members:
                z.writestr(info, data)
            for name, data in new_members.items():
                z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return manifest


def _open(path: str | PathLike) -> zipfile.ZipFile:
    path = Path(path)
    if not path.is_file():
        raise MerError("model file not found", path)
    if not zipfile.is_zipfile(path):
        raise MerError("not a mer model file (not a zip archive)", path)
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise MerError(f"corrupt model file ({exc})", path) from None


def _read(z: zipfile.ZipFile, name: str, path) -> bytes:
    try:
        return z.read(name)
    except KeyError:
        raise MerError(f"corrupt model file (member {name} missing)", path) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # e.g. CRC mismatch, truncated data
        raise MerError(f"corrupt model file ({exc})", path) from None


def _manifest(z: zipfile.ZipFile, path) -> dict:
    if "manifest.json" not in z.namelist():
        raise MerError("not a mer model file (no manifest.json)", path)
    try:
        manifest = json.loads(_read(z, "manifest.json", path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MerError(f"corrupt model file (manifest.json: {exc})", path) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MerError("not a mer model file (manifest has no 'format: mer-model')", path)
    version = manifest.get("schema_version")
    if not isinstance(version, int):
        raise MerError("corrupt model file (schema_version missing)", path)
    if version > SCHEMA_VERSION:
        raise MerError(f"written by a newer mer (model schema {version}, this mer reads up to "
                       f"{SCHEMA_VERSION}); upgrade mer to load it", path)
    return manifest


def load(path: str | PathLike) -> TrainedModel:
    """Read a ``.mer`` file written by :func:`save`.

    Raises
    ------
    MerError
        Not a zip / not a mer model / newer schema / corrupt member / untrusted type.
    """
    with _open(path) as z:
        manifest = _manifest(z, path)
        checksums = manifest.get("checksums", {})
        members = {}
        for name, digest in checksums.items():
            data = _read(z, name, path)
            if hashlib.sha256(data).hexdigest() != digest:
                raise MerError(f"corrupt model file (checksum of {name} does not match)", path)
            members[name] = data
    try:
        feature_config = FeatureConfig.from_dict(manifest["feature_config"])
        kind, est_meta = manifest["kind"], manifest["estimator"]
        if kind == "sequence":
            estimator = _load_sequence(est_meta, members, path)
        elif kind == "summary":
            estimator = _load_summary(est_meta, members, path)
        elif kind == "recipe" and RECIPE_ARRAYS in members:
            estimator = _read_recipe_arrays(est_meta, members, path)
        elif kind == "recipe":  # schema 1: a skops pipeline
            estimator = _load_recipe(est_meta, members, path)
        else:
            raise MerError(f"unknown model kind '{kind}'", path)
        inputs = _recipe_inputs(est_meta, path) if kind == "recipe" else None
    except (KeyError, TypeError) as exc:
        raise MerError(f"corrupt model file (manifest field {exc} missing or malformed)", path) from None
    affect = None
    if AFFECT_ARRAYS in members and kind == "recipe":
        n_columns = estimator.n_columns if hasattr(estimator, "n_columns") else \
            estimator.pipeline_.named_steps["scale"].n_features_in_
        affect = _load_affect(members[AFFECT_ARRAYS], n_columns, path)
    metadata = {k: v for k, v in manifest.get("metadata", {}).items()}
    args = (manifest.get("name", kind), feature_config, metadata, inputs, affect)
    if hasattr(estimator, "n_columns"):  # RecipeArrays or RoutedArrays
        rebuild = functools.partial(_load_recipe, est_meta, members, path)
        return DeferredRecipeModel(estimator, rebuild, *args)
    return TrainedModel(estimator, *args)


def _npz_arrays(blob: bytes) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` member, read without unpickling."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


class RecipeArrays:
    """A schema-2 recipe's fitted numbers, and its ``predict_proba`` in NumPy with scikit-learn's arithmetic.

    The pipeline is standardise -> the k columns of highest ANOVA F -> multinomial
    logistic regression; its probabilities are computed here step for step as
    :class:`~mer.models.recipe.EmotionClassifier` and scikit-learn compute them (inputs
    in float64, the scaler's statistics applied in place, the support mask from the
    scores by a stable argsort, scores ``X @ coef.T + intercept``, softmax after
    subtracting each row's max), so predicting needs no scikit-learn import: 0.8 s (most
    of it ``scipy.stats``) of a cached ``mer predict``. Equal to the rebuilt pipeline's
    probabilities to the bit on the 540 4Q clip rows (``tests/test_modelfile.py`` checks
    real and random rows).
    """

    def __init__(self, arrays: dict, k, classes):
        self.mean, self.scale = arrays["scale_mean"], arrays["scale_scale"]
        self.coef, self.intercept = arrays["coef"], arrays["intercept"]
        self.classes_ = np.asarray(classes)
        scores = np.array(arrays["select_scores"], dtype=np.float64)
        scores[np.isnan(scores)] = np.finfo(scores.dtype).min  # SelectKBest's _clean_nans
        self.support = np.ones(len(scores), dtype=bool)
        if k != "all":
            self.support[:] = False
            self.support[np.argsort(scores, kind="mergesort")[-int(k):]] = True
        n_classes, n_selected = len(self.classes_), int(self.support.sum())
        n_rows = 1 if n_classes == 2 else n_classes  # a binary regression keeps one row: the second class's
        if not self.scale.shape == self.mean.shape == scores.shape:
            raise ValueError("arrays of inconsistent shapes")
        if self.coef.shape != (n_rows, n_selected) or self.intercept.shape != (n_rows,):
            raise ValueError(f"{self.coef.shape} weights for {n_classes} classes x {n_selected} selected columns")

    @classmethod
    def read(cls, blob: bytes, est_meta: dict, path, member: str = RECIPE_ARRAYS) -> "RecipeArrays":
        try:
            return cls(_npz_arrays(blob), est_meta["best_params"]["k"], est_meta["classes"])
        except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
            raise MerError(f"corrupt model file ({member}: {' '.join(str(exc).split())[:200]})", path) from None

    @property
    def n_columns(self) -> int:
        return len(self.mean)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), of inputs of shape (n, n_columns)."""
        X = np.array(X, dtype=np.float64)  # as EmotionClassifier.predict_proba hands it to the pipeline
        if X.ndim != 2 or X.shape[1] != self.n_columns or not np.isfinite(X).all():
            raise ValueError(f"expected finite inputs of shape (n, {self.n_columns}), got shape {X.shape}")
        X -= self.mean.astype(X.dtype)
        X /= self.scale.astype(X.dtype)
        scores = X[:, self.support] @ self.coef.T + self.intercept
        if len(self.classes_) == 2:  # scikit-learn's binary case: the logistic of the one decision value
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1 - p, p], axis=1)
        scores -= scores.max(axis=1).reshape((-1, 1))
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape((-1, 1))
        return scores


class DeferredRecipeModel(TrainedModel):
    """A recipe model read from plain arrays: probabilities from :class:`RecipeArrays`, the
    scikit-learn :class:`~mer.models.recipe.EmotionClassifier` rebuilt only when something asks
    for :attr:`estimator` (fitting, cloning, inspecting, saving)."""

    def __init__(self, arrays: RecipeArrays, rebuild, *args):
        self._arrays, self._rebuild, self._estimator = arrays, rebuild, None
        super().__init__(None, *args)

    @property
    def estimator(self):
        if self._estimator is None:
            self._estimator = self._rebuild()
        return self._estimator

    @estimator.setter
    def estimator(self, value) -> None:
        self._estimator = value

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(c) for c in self._arrays.classes_)

    @property
    def kind(self) -> str:
        return "recipe"

    def predict_proba(self, X) -> np.ndarray:
        return self._arrays.predict_proba(self.classifier_rows(X))


def _affect_arrays(head) -> bytes:
    """A valence / arousal head's arrays as an ``.npz``."""
    buf = io.BytesIO()
    np.savez(buf, **head.arrays)
    return buf.getvalue()


def _load_affect(blob: bytes, n_columns: int, path):
    """The :class:`~mer.models.affect.AffectHead` in ``affect.npz``, every shape checked against the model's inputs."""
    from mer.models.affect import AffectHead

    try:
        return AffectHead(_npz_arrays(blob), n_columns=int(n_columns))
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise MerError(f"corrupt model file ({AFFECT_ARRAYS}: {' '.join(str(exc).split())[:200]})", path) from None


#: Estimator parameters renamed since files were first written: old name -> current name.
#: (``seed`` became ``random_state``, scikit-learn's name, in every estimator; the shipped
#: default model stores ``seed``.)
RENAMED_PARAMS = {"seed": "random_state"}


def _current_params(params: dict) -> dict:
    """Stored estimator parameters under their current names (:data:`RENAMED_PARAMS`)."""
    return {RENAMED_PARAMS.get(k, k): v for k, v in params.items()}


def _load_sequence(meta: dict, members: dict[str, bytes], path):
    from mer.models.sequence import SequenceClassifier

    meta = {**meta, "params": _current_params(meta["params"])}
    if "weights.npz" not in members:
        raise MerError("corrupt model file (weights.npz missing)", path)
    try:
        return SequenceClassifier.from_state(meta, _npz_arrays(members["weights.npz"]))
    except (ValueError, RuntimeError, zipfile.BadZipFile, OSError) as exc:
        raise MerError(f"corrupt model file (weights: {' '.join(str(exc).split())[:200]})", path) from None


def _load_pipeline(members: dict[str, bytes], path):
    """The scikit-learn pipeline in ``estimator.skops``, rebuilt from trusted types only."""
    import skops.io

    blob = members.get("estimator.skops")
    if blob is None:
        raise MerError("corrupt model file (estimator.skops missing)", path)
    try:
        untrusted = skops.io.get_untrusted_types(data=blob)
    except Exception as exc:  # skops raises assorted errors on a damaged archive
        raise MerError(f"corrupt model file (estimator: {type(exc).__name__})", path) from None
    refused = [t for t in untrusted if t not in TRUSTED_TYPES]
    if refused:
        raise MerError(f"refusing to load untrusted type(s) {', '.join(refused)}", path)
    try:
        return skops.io.loads(blob, trusted=list(untrusted))
    except Exception as exc:
        raise MerError(f"corrupt model file (estimator: {type(exc).__name__})", path) from None


def _load_summary(meta: dict, members: dict[str, bytes], path):
    from mer.models.baselines import SummaryClassifier

    pipeline = _load_pipeline(members, path)
    params = _current_params(meta["params"])
    if params.get("stats") is not None:
        params["stats"] = tuple(params["stats"])
    est = SummaryClassifier(**params)
    est.pipeline_ = pipeline
    est.classes_ = np.array(meta["classes"])
    est.n_features_in_ = int(meta["n_features_in"])
    est.fit_warnings_ = list(meta.get("fit_warnings", []))
    return est


def _recipe_arrays(pipeline) -> bytes:
    """The fitted numbers of a recipe pipeline (scale -> select -> classify) as an ``.npz``."""
    scale, select, classify = (pipeline.named_steps[k] for k in ("scale", "select", "classify"))
    buf = io.BytesIO()
    np.savez(buf, scale_mean=scale.mean_, scale_scale=scale.scale_, scale_var=scale.var_,
             n_samples_seen=np.asarray(scale.n_samples_seen_), select_scores=select.scores_,
             select_pvalues=select.pvalues_, coef=classify.coef_, intercept=classify.intercept_,
             classes=np.asarray(classify.classes_).astype(str), n_iter=np.asarray(classify.n_iter_))
    return buf.getvalue()


def _rebuild_recipe(blob: bytes, best: dict, random_state: int, path):
    """The recipe's scikit-learn pipeline from :func:`_recipe_arrays`, fitted attributes set directly.

    Why not skops here: importing ``skops.io`` imports every estimator scikit-learn has
    (and PyTorch through scikit-learn's array-API shim), 2.1 s of a 5-s `mer predict`;
    three plain arrays per step rebuild the same pipeline with the same outputs.
    """
    from mer.models.recipe import make_pipeline

    try:
        a = _npz_arrays(blob)
        n = a["scale_mean"].shape[0]
        if not (a["scale_scale"].shape == a["select_scores"].shape == (n,) and a["coef"].ndim == 2):
            raise ValueError("arrays of inconsistent shapes")
        pipeline = make_pipeline(best["k"], best["C"], random_state=random_state)
        scale, select, classify = (pipeline.named_steps[k] for k in ("scale", "select", "classify"))
        scale.mean_, scale.scale_, scale.var_ = a["scale_mean"], a["scale_scale"], a["scale_var"]
        scale.n_samples_seen_, scale.n_features_in_ = a["n_samples_seen"][()], n
        select.scores_, select.pvalues_, select.n_features_in_ = a["select_scores"], a["select_pvalues"], n
        classify.coef_, classify.intercept_, classify.classes_ = a["coef"], a["intercept"], a["classes"]
        classify.n_features_in_, classify.n_iter_ = int(select.get_support().sum()), a["n_iter"]
        if classify.coef_.shape[1] != classify.n_features_in_:
            raise ValueError(f"{classify.coef_.shape[1]} weights for {classify.n_features_in_} selected columns")
    except (KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        raise MerError(f"corrupt model file ({RECIPE_ARRAYS}: {' '.join(str(exc).split())[:200]})", path) from None
    return pipeline


def _recipe_part(est) -> tuple[dict, bytes]:
    """A fitted :class:`~mer.models.recipe.EmotionClassifier`'s manifest entries and arrays."""
    return ({"params": _jsonable(est.get_params()), "classes": [str(c) for c in est.classes_],
             "best_params": _jsonable(getattr(est, "best_params_", {}))}, _recipe_arrays(est.pipeline_))


def _recipe_state(est) -> tuple[dict, dict[str, bytes]]:
    """The manifest's estimator entry and the members of a fitted recipe, routed (schema 3) or not."""
    if not hasattr(est, "gate_"):
        meta, blob = _recipe_part(est)
        return {"class": "EmotionClassifier", **meta}, {RECIPE_ARRAYS: blob}
    meta, blob = _recipe_part(est.general_)
    members, experts = {RECIPE_ARRAYS: blob}, {}
    for role, member in ROUTED_ARRAYS.items():
        experts[role], members[member] = _recipe_part(getattr(est, role + "_"))
    return {"class": "RoutedClassifier", **meta, "specialist_weights": list(est.specialist_weights),
            "experts": experts}, members


def _read_recipe_arrays(est_meta: dict, members: dict[str, bytes], path):
    """:class:`RecipeArrays` of a recipe, or :class:`~mer.models.routing.RoutedArrays` of a routed one."""
    general = RecipeArrays.read(members[RECIPE_ARRAYS], est_meta, path)
    if est_meta.get("class") != "RoutedClassifier":
        return general
    from mer.models.routing import RoutedArrays

    parts = {role: RecipeArrays.read(_member(members, name, path), est_meta["experts"][role], path, name)
             for role, name in ROUTED_ARRAYS.items()}
    try:
        return RoutedArrays(general, parts["specialist"], parts["gate"])
    except ValueError as exc:
        raise MerError(f"corrupt model file (routed recipe: {exc})", path) from None


def _member(members: dict[str, bytes], name: str, path) -> bytes:
    if name not in members:
        raise MerError(f"corrupt model file (member {name} missing)", path)
    return members[name]


def _load_recipe(meta: dict, members: dict[str, bytes], path):
    """The scikit-learn estimator of a recipe model file (routed or not), rebuilt from its arrays."""
    if meta.get("class") != "RoutedClassifier":
        blob = members.get(RECIPE_ARRAYS)
        return _load_emotion_classifier(meta, blob, members if blob is None else None, path)
    from sklearn.base import clone

    from mer.models.routing_fit import RoutedClassifier

    parts = {"general": _load_emotion_classifier(meta, members[RECIPE_ARRAYS], None, path)}
    for role, name in ROUTED_ARRAYS.items():
        parts[role] = _load_emotion_classifier(meta["experts"][role], _member(members, name, path), None, path)
    est = RoutedClassifier(*(clone(parts[r]) for r in ("general", "specialist", "gate")),
                           specialist_weights=tuple(meta["specialist_weights"]))
    est.general_, est.specialist_, est.gate_ = parts["general"], parts["specialist"], parts["gate"]
    est.classes_ = parts["general"].classes_
    return est


def _load_emotion_classifier(meta: dict, blob: bytes | None, schema1_members, path):
    from mer.models.recipe import EmotionClassifier

    params = _current_params(meta["params"])
    est = EmotionClassifier(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    if blob is not None:
        est.pipeline_ = _rebuild_recipe(blob, meta["best_params"], est.random_state, path)
    else:  # schema 1 files
        est.pipeline_ = _load_pipeline(schema1_members, path)
    est.classes_ = np.array(meta["classes"])
    est.best_params_ = dict(meta.get("best_params", {}))
    est.inner_scores_ = {}
    return est


def _recipe_inputs(meta: dict, path) -> list:
    from mer.features.descriptors import DescriptorConfig
    from mer.features.embeddings import EmbeddingConfig

    types = {"DescriptorConfig": DescriptorConfig, "EmbeddingConfig": EmbeddingConfig}
    inputs = []
    for name, type_name, cfg in meta["inputs"]:
        if type_name not in types:
            raise MerError(f"unknown input block type '{type_name}'", path)
        inputs.append((name, types[type_name].from_dict(cfg)))
    return inputs
