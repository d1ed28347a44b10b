"""The paper's recurrent models (RNN, BRNN, LSTM) plus a GRU, as scikit-learn estimators.

Networks (:class:`RNNClassifier`, :class:`LSTMClassifier`) follow Chang et al.
(arXiv 2405.06747): one recurrent layer of 128 units reading (time, 204) frames
batch-first; the final hidden state (both directions concatenated for BRNN) goes
to a small head:

* RNN / BRNN / GRU: Dropout 0.2 -> Linear(h, 128) -> BatchNorm -> ReLU -> Linear(128, 4),
  h = 128 (256 bidirectional).
* LSTM: three blocks Linear -> BatchNorm -> ReLU -> Dropout 0.2 (widths 128, 64, 32:
  the paper names the blocks, not their widths), then Linear to 4.

Initial states are zeros (the paper drew random initial LSTM states on every call,
which makes predictions non-deterministic; that is a defect we do not copy).

:class:`SequenceClassifier` wraps a network with its preprocessing
(:class:`~mer.features.transforms.SequencePreprocessor`: mel dB, frame pooling,
standardisation fitted on the training clips only, optional fixed length), training
(cross-entropy, AdamW, gradient clipping, early stopping on a grouped validation
split with the best weights restored) and prediction, behind ``fit`` /
``predict_proba`` / ``predict``.

Variable lengths: without ``n_frames`` each batch is zero-padded and the final
state is the state after each clip's own last frame (:func:`_final_state`).
``n_frames=1295`` reproduces the paper (every clip padded / cut to 1,295 frames and
read to the end, padding included).
"""

from __future__ import annotations

import copy
import numbers
import time
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, check_scalar
from torch import nn

from mer.core.progress import progress_bar
from mer.eval.cv import take
from mer.eval.splits import grouped_holdout
from mer.features.transforms import SequencePreprocessor

#: Recurrent architectures by name.
ARCHS = ("rnn", "brnn", "lstm", "gru")

#: The paper's learning rates (RNN / BRNN 1e-4, LSTM 3e-4; GRU as LSTM, gated alike).
PAPER_LR = {"rnn": 1e-4, "brnn": 1e-4, "lstm": 3e-4, "gru": 3e-4}


def _final_state(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Final hidden state (B, num_directions * H) of a batch-first (B, T, F) input.

    Zero initial states (PyTorch's default when none is passed). In a padded batch of
    unequal lengths no final state reads padding: the forward direction's is its
    output at each clip's own last frame (the padding comes after it); the reverse
    direction's comes from a second pass over the batch padded on the left, where the
    reverse pass starts at the clip's last frame and ends at its first.

    Not ``pack_padded_sequence``: its backward pass on CPU is slow, and an epoch with it
    took 1.3x (BRNN, even against two padded passes) to 4x (LSTM) as long
    (``benchmarks/training.py``).
    """
    if lengths is None or not bool((lengths != x.shape[1]).any()):
        _, h = rnn(x)
        if isinstance(h, tuple):  # LSTM: (h_n, c_n)
            h = h[0]
        return h.transpose(0, 1).reshape(h.shape[1], -1)  # (dirs, B, H) -> (B, dirs * H)
    lengths = lengths.to(x.device)
    clip = torch.arange(len(x), device=x.device)
    out, _ = rnn(x)
    last = out[clip, lengths - 1]
    if not rnn.bidirectional:
        return last
    T, H = x.shape[1], rnn.hidden_size
    # x_left[b, T - len_b + j] = x[b, j]; the first T - len_b steps take padding (zeros)
    shift = (torch.arange(T, device=x.device)[None, :] + lengths[:, None]) % T
    x_left = torch.gather(x, 1, shift[..., None].expand(-1, -1, x.shape[2]))
    out_left, _ = rnn(x_left)
    return torch.cat([last[:, :H], out_left[clip, T - lengths, H:]], dim=1)


class RNNClassifier(nn.Module):
    """One recurrent layer (RNN, GRU; optionally bidirectional) and the paper's RNN head.

    Parameters
    ----------
    n_features : int
        Rows per frame (204).
    n_classes : int
    hidden_size : int
        Units of the recurrent layer (128).
    cell : {'rnn', 'gru'}
    bidirectional : bool
        BRNN: both directions' final states are concatenated (head input 2 * hidden_size).
    dropout : float
    head_size : int
        Width of the hidden Linear layer of the head (128).

    Input ``x`` (B, T, n_features) float32 and optional ``lengths`` (B,); output logits (B, n_classes).
    """

    def __init__(self, n_features: int = 204, n_classes: int = 4, hidden_size: int = 128, cell: str = "rnn",
                 bidirectional: bool = False, dropout: float = 0.2, head_size: int = 128):
        super().__init__()
        rnn_cls = {"rnn": nn.RNN, "gru": nn.GRU}[cell]
        self.rnn = rnn_cls(n_features, hidden_size, num_layers=1, batch_first=True, bidirectional=bidirectional)
        h = hidden_size * (2 if bidirectional else 1)
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(h, head_size), nn.BatchNorm1d(head_size), nn.ReLU(),
            nn.Linear(head_size, n_classes),
        )

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(_final_state(self.rnn, x, lengths))


class LSTMClassifier(nn.Module):
    """One LSTM layer and the paper's three-block head.

    Parameters
    ----------
    n_features, n_classes, hidden_size, dropout
        As :class:`RNNClassifier`.
    head_sizes : tuple of int
        Widths of the Linear -> BatchNorm -> ReLU -> Dropout blocks.
    bidirectional : bool
    """

    def __init__(self, n_features: int = 204, n_classes: int = 4, hidden_size: int = 128, dropout: float = 0.2,
                 head_sizes: tuple[int, ...] = (128, 64, 32), bidirectional: bool = False):
        super().__init__()
        self.rnn = nn.LSTM(n_features, hidden_size, num_layers=1, batch_first=True, bidirectional=bidirectional)
        layers, width = [], hidden_size * (2 if bidirectional else 1)
        for size in head_sizes:
            layers += [nn.Linear(width, size), nn.BatchNorm1d(size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(_final_state(self.rnn, x, lengths))


def build_network(arch: str, n_features: int, n_classes: int, hidden_size: int = 128,
                  dropout: float = 0.2) -> nn.Module:
    """The network of a named architecture (see :data:`ARCHS`)."""
    if arch == "lstm":
        return LSTMClassifier(n_features, n_classes, hidden_size, dropout)
    if arch in ("rnn", "brnn", "gru"):
        return RNNClassifier(n_features, n_classes, hidden_size, cell="gru" if arch == "gru" else "rnn",
                             bidirectional=arch == "brnn", dropout=dropout)
    raise ValueError(f"unknown architecture '{arch}' (known: {', '.join(ARCHS)})")


def resolve_device(device: str) -> torch.device:
    """``'auto'`` -> CUDA when present, else CPU; anything else as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Consecutive chunks of `order`; a last chunk of one clip joins the previous one
    (BatchNorm cannot normalise a batch of one in training mode)."""
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
    return chunks


def _collate(seqs: list[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in seqs])
    x = nn.utils.rnn.pad_sequence(seqs, batch_first=True) if len(set(lengths.tolist())) > 1 else torch.stack(seqs)
    return x.to(device), lengths


class SequenceClassifier(ClassifierMixin, BaseEstimator):
    """A recurrent classifier of (204, T) feature sequences, preprocessing included.

    Parameters
    ----------
    arch : {'rnn', 'brnn', 'lstm', 'gru'}
    hidden_size : int
        Recurrent units (the paper's 128).
    lr : float or None
        AdamW learning rate; None takes the paper's for `arch` (:data:`PAPER_LR`).
    weight_decay : float
        AdamW weight decay.
    epochs : int
        Maximum epochs.
    batch_size : int
    patience : int
        Stop after this many epochs without a lower validation loss; the weights of
        the best epoch are restored. Ignored without a validation set.
    grad_clip : float or None
        Clip the gradient norm to this (the paper's 20); None for no clipping.
    dropout : float
    mel_db : bool
        Mel rows in dB (our default) or power (the paper).
    pool : int
        Mean-pool this many frames into one before the network (1 = the paper's
        23.2 ms frames; 8 = 186 ms, about 8x fewer recurrent steps).
    n_frames : int or None
        Pad / truncate every (pooled) sequence to this length (the paper: 1295 at
        pool 1); None packs variable lengths instead.
    val_fraction : float in [0, 1)
        Share of the training clips held out (by group) for early stopping; 0 trains
        all `epochs` on everything.
    random_state : int >= 0
        Seeds weights, shuffling, dropout and the validation split. (Formerly
        ``seed``; model files that store ``seed`` still load, see :mod:`mer.models.modelfile`.)
    device : str
        ``'auto'`` (CUDA when present), ``'cpu'``, ``'cuda'``, ...
    n_threads : int or None
        torch's CPU threads while fitting and predicting (restored afterwards). 1 by
        default: a 128-unit recurrent layer gains little from more, and on busy
        shared cores two spinning threads ran 5-10x slower than one. None leaves
        torch's setting.
    progress : bool
        A progress bar over epochs.

    Attributes
    ----------
    classes_ : np.ndarray of str
    network_ : torch.nn.Module
    preprocessor_ : SequencePreprocessor
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``val_loss``, ``val_accuracy``, ``wall_s``.
    best_epoch_ : int
        Epoch (1-based) whose weights were kept.
    n_features_in_ : int
    """

    def __init__(self, arch: str = "lstm", hidden_size: int = 128, lr: float | None = None,
                 weight_decay: float = 1e-2, epochs: int = 40, batch_size: int = 32, patience: int = 8,
                 grad_clip: float | None = 20.0, dropout: float = 0.2, mel_db: bool = True, pool: int = 8,
                 n_frames: int | None = None, val_fraction: float = 0.15, random_state: int = 0,
                 device: str = "auto", n_threads: int | None = 1, progress: bool = True):
        self.arch = arch
        self.hidden_size = hidden_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.dropout = dropout
        self.mel_db = mel_db
        self.pool = pool
        self.n_frames = n_frames
        self.val_fraction = val_fraction
        self.random_state = random_state
        self.device = device
        self.n_threads = n_threads
        self.progress = progress

    # -- preprocessing ------------------------------------------------------------------
    def _make_preprocessor(self) -> SequencePreprocessor:
        return SequencePreprocessor(mel_db=self.mel_db, pool=self.pool, n_frames=self.n_frames)

    def _tensors(self, X: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Each clip preprocessed and transposed to (T', n_features) for batch-first RNNs."""
        return [torch.from_numpy(np.ascontiguousarray(self.preprocessor_.transform_one(x).T)) for x in X]

    # -- training -----------------------------------------------------------------------
    def _check_params(self) -> None:
        """Every constructor parameter in range (scikit-learn style: checked in ``fit``).

        Raises ValueError (or TypeError for a wrong type) naming the parameter.
        """
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        integral, real = numbers.Integral, numbers.Real
        # batches of one cannot be normalised by the heads' BatchNorm in training mode
        for name, lo in (("hidden_size", 1), ("epochs", 1), ("batch_size", 2), ("patience", 1), ("pool", 1),
                         ("random_state", 0)):
            check_scalar(getattr(self, name), name, integral, min_val=lo)
        for name in ("n_frames", "n_threads"):
            if getattr(self, name) is not None:
                check_scalar(getattr(self, name), name, integral, min_val=1)
        for name in ("lr", "grad_clip"):
            if getattr(self, name) is not None:
                check_scalar(getattr(self, name), name, real, min_val=0, include_boundaries="neither")
        check_scalar(self.weight_decay, "weight_decay", real, min_val=0)
        check_scalar(self.dropout, "dropout", real, min_val=0, max_val=1, include_boundaries="left")
        check_scalar(self.val_fraction, "val_fraction", real, min_val=0, max_val=1, include_boundaries="left")

    def fit(self, X: Sequence[np.ndarray], y, groups=None, X_val=None, y_val=None) -> "SequenceClassifier":
        """Fit on clips `X` with labels `y`; `groups` keep the validation split honest.

        Steps: :meth:`_prepare` (labels, split, preprocessing), :meth:`_build` (seeded
        network and optimiser), then per epoch :meth:`_train_epoch`, :meth:`_score` on
        the validation clips and :class:`_EarlyStopping`.

        Parameters
        ----------
        X : sequence of np.ndarray, each (n_features, T_i) float32
            Extracted feature matrices (mel as power; converted here if ``mel_db``).
        y : array-like, shape (n,)
            Labels (e.g. ``'Q1'``..``'Q4'``).
        groups : array-like, shape (n,), optional
            Artist / song / source clip of each clip: the early-stopping split never
            divides a group. None treats every clip as its own group.
        X_val, y_val : sequence of np.ndarray and array-like, optional
            A validation set chosen by the caller, used instead of the internal split
            (:class:`mer.workflows.augmented.AugmentedClassifier` sets it aside by group before it
            adds augmented copies, so that no copy is ever in it).

        Raises
        ------
        ValueError
            A parameter out of range (naming it), or `X` and `y` of different lengths.
        """
        self._check_params()
        data, y_idx, tr, va = self._prepare(X, y, groups, X_val, y_val)
        labels = torch.from_numpy(y_idx.astype(np.int64))
        device = resolve_device(self.device)
        opt = self._build(device)
        rng = np.random.default_rng(self.random_state)
        stopping = _EarlyStopping(self.patience, has_validation=len(va) > 0)
        self.history_ = []
        with _deterministic(), _threads(self.n_threads), _flush_denormals(), \
                progress_bar(f"{self.arch} epochs", total=self.epochs, enabled=self.progress) as advance:
            for epoch in range(1, self.epochs + 1):
                t0 = time.perf_counter()
                record = {"epoch": epoch, "train_loss": self._train_epoch(data, labels, tr, rng, opt, device),
                          **self._score(data, y_idx, va, device)}
                record["wall_s"] = time.perf_counter() - t0
                self.history_.append(record)
                advance()
                if stopping.update(epoch, record, self.network_):
                    break
        self.best_epoch_ = stopping.epoch
        self.network_.load_state_dict(stopping.state)
        self.network_.eval()
        return self

    def _prepare(self, X, y, groups, X_val, y_val) -> tuple[list[torch.Tensor], np.ndarray, np.ndarray, np.ndarray]:
        """Fit the labels and the preprocessing; returns (tensors of every clip, label
        indices, training indices, validation indices), the caller's validation clips last."""
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"{len(X)} feature matrices but {len(y)} labels")
        if len(y) == 0:
            raise ValueError("no clips to fit on")
        n_fit = len(y)
        if X_val is not None:  # the caller's validation set: appended, then indexed as `va`
            X, y = [*X, *X_val], np.concatenate([y, np.asarray(y_val)])
        self.classes_, y_idx = np.unique(y.astype(str), return_inverse=True)
        if X_val is not None:
            tr, va = np.arange(n_fit), np.arange(n_fit, len(y))
        else:
            tr, va = grouped_holdout(y_idx, groups, self.val_fraction, self.random_state) if self.val_fraction \
                else (np.arange(len(y)), np.arange(0))
        self.preprocessor_ = self._make_preprocessor().fit(take(X, tr))
        data = self._tensors(X)
        self.n_features_in_ = int(data[0].shape[1])
        return data, y_idx, tr, va

    def _build(self, device) -> torch.optim.Optimizer:
        """The seeded network (``network_``) on `device` and its AdamW optimiser."""
        torch.manual_seed(self.random_state)
        self.network_ = build_network(self.arch, self.n_features_in_, len(self.classes_), self.hidden_size,
                                      self.dropout).to(device)
        lr = self.lr if self.lr is not None else PAPER_LR[self.arch]
        return torch.optim.AdamW(self.network_.parameters(), lr=lr, weight_decay=self.weight_decay)

    def _train_epoch(self, data: list[torch.Tensor], labels: torch.Tensor, tr: np.ndarray, rng: np.random.Generator,
                     opt: torch.optim.Optimizer, device) -> float:
        """One pass over the training clips `tr` in a seeded random order; returns the mean loss."""
        self.network_.train()
        loss_fn = nn.CrossEntropyLoss()
        total, count = 0.0, 0
        for b in _batches(rng.permutation(tr), self.batch_size):
            x, lengths = _collate([data[i] for i in b], device)
            target = labels[b].to(device)
            opt.zero_grad()
            loss = loss_fn(self.network_(x, lengths), target)
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.network_.parameters(), self.grad_clip)
            opt.step()
            total += loss.item() * len(b)
            count += len(b)
        return total / max(count, 1)

    def _score(self, data: list[torch.Tensor], y_idx: np.ndarray, va: np.ndarray, device) -> dict[str, float]:
        """``val_loss`` (cross-entropy) and ``val_accuracy`` on the validation clips `va` (empty: {})."""
        if not len(va):
            return {}
        proba = self._proba_tensors([data[i] for i in va], device)
        return {"val_loss": float(-np.log(np.maximum(proba[np.arange(len(va)), y_idx[va]], 1e-12)).mean()),
                "val_accuracy": float((proba.argmax(1) == y_idx[va]).mean())}

    # -- prediction ---------------------------------------------------------------------
    @torch.no_grad()
    def _proba_tensors(self, seqs: list[torch.Tensor], device, batch_size: int = 64) -> np.ndarray:
        self.network_.eval()
        out = np.zeros((len(seqs), len(self.classes_)), dtype=np.float32)
        order = np.argsort([len(s) for s in seqs], kind="stable")  # similar lengths share a batch
        for i in range(0, len(order), batch_size):
            b = order[i:i + batch_size]
            x, lengths = _collate([seqs[j] for j in b], device)
            out[b] = torch.softmax(self.network_(x, lengths), dim=1).cpu().numpy()
        return out

    def predict_proba(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities, shape (n, n_classes), columns in ``classes_`` order."""
        check_is_fitted(self, ("network_", "preprocessor_", "classes_"))
        device = next(self.network_.parameters()).device
        with _threads(self.n_threads), _flush_denormals():
            return self._proba_tensors(self._tensors(X), device)

    def predict(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """The most probable class of each clip, shape (n,)."""
        P = self.predict_proba(X)  # first: it raises NotFittedError on an unfitted model
        return self.classes_[P.argmax(axis=1)]

    # -- persistence (used by mer.models.modelfile) -------------------------------------------
    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-ready description, plain arrays) of the fitted model: no pickling needed."""
        check_is_fitted(self, ("network_", "preprocessor_", "classes_"))
        meta = {
            "params": self.get_params(),
            "classes": [str(c) for c in self.classes_],
            "n_features_in": self.n_features_in_,
            "best_epoch": getattr(self, "best_epoch_", None),
            "history": self.history_,
        }
        arrays = {f"network.{k}": v.detach().cpu().numpy() for k, v in self.network_.state_dict().items()}
        arrays |= {f"preprocessor.{k}": v for k, v in self.preprocessor_.get_state().items()}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "SequenceClassifier":
        """Rebuild a fitted classifier from :meth:`get_state` output (on CPU unless a device is set)."""
        est = cls(**meta["params"])
        est.classes_ = np.array(meta["classes"])
        est.n_features_in_ = int(meta["n_features_in"])
        est.history_ = list(meta.get("history", []))
        est.best_epoch_ = meta.get("best_epoch")
        est.preprocessor_ = est._make_preprocessor().set_state(
            {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("preprocessor.")})
        net = build_network(est.arch, est.n_features_in_, len(est.classes_), est.hidden_size, est.dropout)
        state = {k.split(".", 1)[1]: torch.from_numpy(np.array(v)) for k, v in arrays.items()
                 if k.startswith("network.")}
        net.load_state_dict(state, strict=True)
        est.network_ = net.to(resolve_device(est.device)).eval()
        return est


class _EarlyStopping:
    """Keeps the weights of the best epoch and says when to stop.

    The best epoch has the lowest validation loss; without validation clips it is the
    last one and training runs all epochs. Training stops after `patience` epochs in a
    row without a lower validation loss.
    """

    def __init__(self, patience: int, has_validation: bool):
        self.patience, self.has_validation = patience, has_validation
        self.best, self.waited = np.inf, 0
        self.epoch: int | None = None
        self.state: dict | None = None

    def update(self, epoch: int, record: dict, network: nn.Module) -> bool:
        """Account for a finished epoch (its history `record`); True when training should stop."""
        score = record.get("val_loss", -epoch)  # without validation: keep the last epoch
        if score < self.best:
            self.best, self.waited, self.epoch = score, 0, epoch
            self.state = copy.deepcopy(network.state_dict())
            return False
        self.waited += 1
        return self.has_validation and self.waited >= self.patience


class _threads:
    """torch's intra-op thread count set for a block (None: unchanged)."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        self._prev = torch.get_num_threads()
        if self.n:
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        torch.set_num_threads(self._prev)
        return False


class _flush_denormals:
    """Subnormal floats flushed to zero for a block (CPU only; torch's default, off, restored after).

    Gradients that fade through a long recurrence pass through the subnormal range
    (< 1.2e-38), where x86 arithmetic is many times slower: an RNN epoch took 2.8x as
    long with them, a paper-LSTM epoch (1,295 steps) 4.1x. Values that small move no
    weight: in ``benchmarks/training.py`` the models fitted with and without flushing
    give the same probabilities.
    """

    def __enter__(self):
        torch.set_flush_denormal(True)

    def __exit__(self, *exc):
        torch.set_flush_denormal(False)  # torch has no getter; False is its default
        return False


class _deterministic:
    """Deterministic torch algorithms while training (restored afterwards: it is global state)."""

    def __enter__(self):
        self._prev = torch.are_deterministic_algorithms_enabled()
        self._prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)

    def __exit__(self, *exc):
        torch.use_deterministic_algorithms(self._prev, warn_only=self._prev_warn)
        return False
