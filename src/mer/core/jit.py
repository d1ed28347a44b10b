"""librosa's numba kernels compiled on first use instead of at import: a fast first run.

librosa declares a dozen of its kernels with an explicit list of signatures,
``numba.guvectorize([sig, ...], layout, cache=True)`` and ``numba.vectorize([sig, ...])``.
numba compiles every signature of such a function when the decorator runs, that is
when the module is imported, whether the kernel is ever called or not. On a fresh
install (empty numba cache) importing the librosa modules a prediction needs took about
25 s on the 2-core development machine (``librosa.util.utils`` 13 s, ``librosa.core.audio``
6.7 s, ``constantq`` / ``pitch`` / ``spectrum`` ~1.8 s each), most of a 32 s first ``mer
predict``; with the cache filled, loading the compiled code still costs every run.

:func:`install` (called by ``mer/__init__.py``) arranges that these decorators, when
applied to a function of librosa (``__module__`` ``librosa`` or ``librosa.*``), return a
:class:`DeferredKernel` instead: a stand-in that keeps the decorator's arguments and
compiles nothing until called. A call then builds, with numba's own decorator, only the
loop of the signature list that NumPy would take for those operands (where that choice
is certain, see :meth:`DeferredKernel._pick`; otherwise the whole eager kernel), so the
machine code, the casts of the operands, ``identity`` and the on-disk cache entry are
those of the eager kernel and results are bitwise the same; only the time and amount of
compilation change. Dropping the signature list instead (numba's dynamic ufuncs) would
not do: they type scalars from the Python value (``peak_pick``'s ``delta`` would be
compared in float64 where librosa's loop casts it to float32), reuse whichever loop an
earlier call compiled when the operands cast to it, and dynamic gufuncs refuse calls
without an output argument, as ``librosa.beat`` makes them.

Functions of any other module, users' own numba code included, are decorated by numba
as before. The cost before numba is imported is one entry in ``sys.meta_path`` that
looks at module names: ``import mer`` and ``mer --help`` import no numba, and
``import librosa`` (lazy) stays without it; when numba is imported, its two decorators
are wrapped and the entry removes itself.

Measured on 2 shared, busy cores, a first ``mer predict`` of one real 4Q clip with empty
feature and numba caches: on the same tree, with librosa's kernel modules imported
before ``mer`` (eager, as without this module) 46.7 and 37.4 s wall, with the deferral
20.2 and 20.6 s (runs alternated, ``/usr/bin/time``); numba cache files written 56 and
13: 7 cached kernels compiled, one loop each (``beat_track``'s four and its ``localmax``,
``onset_detect``'s ``peak_pick``, ``tempogram``'s ``abs2``; ``beat_track``'s uncached
``__beat_local_score`` too) where the eager imports compiled 30 loops.
``benchmarks/predict.py --skip-clips --repeats 3``, the previous commit against this
tree (which also holds other uncommitted work): first predict 53.1 / 25.0 s; ``mer
--help`` 0.46 / 0.41 s, ``mer model-info`` 0.49 / 0.48 s, a cached ``mer predict``
2.50 / 2.44 s. Descriptors and the fused 204 rows of 4 real 4Q clips, and ``mer
predict``'s probabilities on 3, are bitwise equal with eager and deferred kernels.

What is left of a first run is mostly not compilation: with the numba cache already
filled the same first predict took 14 s (quieter machine, 17.8 s with an empty one);
loading the 8 kernels from the cache still costs about 3 s of it (cProfile), and
PyTorch with the two musicnn embeddings most of the rest.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing, functools and threading are imported only when needed: `import mer` stays light
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: numba's decorators that compile eagerly when given signatures.
_DECORATORS = ("vectorize", "guvectorize")


def _is_librosa(func: Any) -> bool:
    module = getattr(func, "__module__", None) or ""
    return module == "librosa" or module.startswith("librosa.")


class DeferredKernel:
    """A librosa kernel whose numba loops are built (compiled or loaded from cache) on first use.

    A call with array / NumPy-scalar / Python-number operands and no keywords builds only
    the loop NumPy picks for them from the kernel's signature list (:meth:`_pick`; outputs
    given by position), as a ufunc of that one loop: the same machine code and the same
    casts as the eager kernel. Anything else (keywords such as ``out=`` or ``axis=``,
    other operand types, a choice that is not certain, attributes such as ``types`` or
    ``reduce``) builds the whole eager kernel once (thread-safe) and forwards to it.
    :attr:`compiled` says whether that has happened.
    """

    def __init__(self, decorator: Callable, args: tuple, kwargs: dict, py_func: Callable):
        self._decorator, self._args, self._kwargs, self._py_func = decorator, args, kwargs, py_func
        self._kernel: Any = None
        self._loops: dict[int, Any] = {}  # signature index -> one-loop kernel
        self._choice: dict[tuple, int | None] = {}  # operand types -> signature index
        self._table: tuple | None = None
        import functools
        import threading

        self._lock = threading.Lock()
        functools.update_wrapper(self, py_func)

    @property
    def compiled(self) -> bool:
        """True once the whole eager numba object exists (every signature compiled or loaded)."""
        return self._kernel is not None

    @property
    def compiled_signatures(self) -> list[str]:
        """The signatures built so far, whole kernel or one loop at a time, in list order."""
        sigs = _signature_list(self._args)
        return list(sigs) if self.compiled else [sigs[k] for k in sorted(self._loops)]

    def kernel(self) -> Any:
        """The whole numba object, built on the first call exactly as the eager decorator would."""
        if self._kernel is None:
            with self._lock:
                if self._kernel is None:
                    self._kernel = self._decorator(*self._args, **dict(self._kwargs))(self._py_func)
        return self._kernel

    def _loop(self, index: int) -> Any:
        if index not in self._loops:
            with self._lock:
                if index not in self._loops:
                    one = [_signature_list(self._args)[index]]
                    self._loops[index] = self._decorator(one, *self._args[1:], **dict(self._kwargs))(self._py_func)
        return self._loops[index]

    def __call__(self, *args, **kwargs):
        if self._kernel is None and not kwargs:
            key = tuple(_operand_key(a) for a in args)
            if key not in self._choice:
                self._choice[key] = self._pick(key)
            index = self._choice[key]
            if index is not None:
                return self._loop(index)(*args)
        return self.kernel()(*args, **kwargs)

    def _pick(self, key: tuple) -> int | None:
        """Index of the signature NumPy takes for operands `key`, where that is certain; else None.

        NumPy first looks for a loop whose dtypes are exactly the operands' and otherwise
        searches the loops in order for the first one every input casts to safely; Python
        numbers (weak) fit any loop dtype of their kind. A loop is taken only where both
        rules agree on it (it is the first the search takes, and it is exact, or no loop
        is exact and no operand is a Python number), so the choice is NumPy's whichever
        rule it applies; the rest (and calls of Python numbers alone, which NumPy gives
        default dtypes) build the whole kernel instead. The tests check the choice against
        ``ufunc.resolve_dtypes`` of the eager kernels.
        """
        if self._table is None:
            self._table = _loop_table(self._args)
        n_in, loops, scalar = self._table
        if (None in key or not n_in <= len(key) <= len(loops[0]) or any(k[0] != "array" for k in key[n_in:])
                or all(k[0] == "weak" for k in key[:n_in])
                or any(k[0] == "weak" and not scalar[i] for i, k in enumerate(key[:n_in]))):
            return None  # a Python number where the layout wants an array is numba's error to raise
        exact = [all(k[0] == "weak" or k[1] == dt for k, dt in zip(key, dtypes)) for dtypes in loops]
        for index, dtypes in enumerate(loops):
            if all(_casts(k, dt) for k, dt in zip(key[:n_in], dtypes)) and all(
                    _can_cast(dt, k[1], "same_kind") for k, dt in zip(key[n_in:], dtypes[n_in:])):
                # the first loop of the search; also NumPy's where it is exact, or where no loop
                # is exact and there are no Python numbers (whose handling then is NumPy's own)
                strong = all(k[0] == "array" for k in key)
                return index if exact[index] or (strong and not any(exact)) else None
        return None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)  # not the numba object's: copy / pickle probes, a half-built self
        return getattr(self.kernel(), name)

    def __repr__(self) -> str:
        state = "compiled" if self.compiled else f"{len(self._loops)} loop(s) built"
        return f"<DeferredKernel {self.__module__}.{self.__qualname__} ({state})>"


def _can_cast(from_dtype: Any, to_dtype: Any, casting: str) -> bool:
    import numpy as np  # here, not at the top: `import mer` must stay light

    return bool(np.can_cast(from_dtype, to_dtype, casting))


def _operand_key(x: Any) -> tuple | None:
    """("array", dtype) for arrays and NumPy scalars (strong), ("weak", kind) for Python numbers."""
    import numpy as np

    if isinstance(x, (np.ndarray, np.generic)):
        return ("array", x.dtype)
    if isinstance(x, bool):
        return ("array", np.dtype(bool))  # Python bool is NumPy's bool, not weak
    for kind, kinds in ((int, "iufc"), (float, "fc"), (complex, "c")):
        if type(x) is kind:
            return ("weak", kinds)
    return None


def _casts(key: tuple, dtype: Any) -> bool:
    """Whether an input operand described by `key` casts safely to the loop's `dtype` (NEP 50 for weak ones)."""
    if key[0] == "weak":
        return dtype.kind in key[1]
    return _can_cast(key[1], dtype, "safe")


def _signature_list(args: tuple) -> list:
    sigs = args[0]
    return [sigs] if isinstance(sigs, str) else list(sigs)


def _loop_table(args: tuple) -> tuple[int, list[list], list[bool]]:
    """Of a vectorize / guvectorize: number of inputs, the NumPy dtypes of each signature's operands in list
    order, and whether each input is a scalar (``()`` in the layout)."""
    from numba.core import sigutils, types
    from numba.np.numpy_support import as_dtype

    loops, n_in, scalar = [], 0, []
    for sig in _signature_list(args):
        argtys, restype = sigutils.normalize_signature(sig)
        dtypes = [as_dtype(t.dtype if isinstance(t, types.Array) else t) for t in argtys]
        if len(args) == 2:  # guvectorize: inputs, then outputs, as the layout "(n),()->(n)" says
            groups = args[1].replace(" ", "").split("->")[0][1:-1].split("),(")
            n_in, scalar = len(groups), [g == "" for g in groups]
        else:  # vectorize: the return type is the one output
            n_in, scalar = len(dtypes), [True] * len(dtypes)
            dtypes.append(as_dtype(restype))
        loops.append(dtypes)
    return n_in, loops, scalar


def _has_signatures(args: tuple, decorator: str) -> bool:
    """Whether numba's `decorator` was given a signature list (what makes it compile at once)."""
    if decorator == "guvectorize":
        return len(args) == 2 and bool(args[0])
    return bool(args) and isinstance(args[0], (str, list, tuple)) and bool(args[0])


def _deferring(decorator: Callable, name: str) -> Callable:
    """`decorator` (numba's), but returning a :class:`DeferredKernel` for librosa's functions with signatures."""
    import functools

    @functools.wraps(decorator)
    def wrapper(*args, **kwargs):
        if not _has_signatures(args, name):
            return decorator(*args, **kwargs)  # lazy already (or @vectorize without parentheses)
        eager = decorator(*args, **kwargs)  # numba's wrap(func): decorating compiles, calling this does not

        def wrap(func):
            return DeferredKernel(decorator, args, kwargs, func) if _is_librosa(func) else eager(func)

        return wrap

    wrapper._mer_deferring = True
    return wrapper


def _wrap_numba(numba: Any) -> None:
    for name in _DECORATORS:
        current = getattr(numba, name)
        if not getattr(current, "_mer_deferring", False):
            setattr(numba, name, _deferring(current, name))


class _NumbaImportHook:
    """A ``sys.meta_path`` entry that wraps numba's decorators as soon as numba is imported."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "numba":
            return None
        remove()
        import importlib.util

        spec = importlib.util.find_spec("numba")  # the finders after this one
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_wrap(module):
            exec_module(module)
            _wrap_numba(module)

        try:
            spec.loader.exec_module = exec_then_wrap  # instance attribute: this spec's loader only
        except AttributeError:  # a loader with __slots__: numba stays as it is
            pass
        return spec


_hook = _NumbaImportHook()


def install() -> None:
    """Defer librosa's signature-list kernels in this process (idempotent, no numba import).

    Where numba is already imported its decorators are wrapped now; otherwise when it is.
    librosa modules imported before this keep their eager kernels.
    """
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "guvectorize"):
        _wrap_numba(numba)
    elif _hook not in sys.meta_path:
        sys.meta_path.insert(0, _hook)


def remove() -> None:
    """Take the import hook out of ``sys.meta_path`` (decorators already wrapped stay wrapped)."""
    while _hook in sys.meta_path:
        sys.meta_path.remove(_hook)
