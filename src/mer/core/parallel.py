"""Local worker processes, thread budgets and Ctrl-C: how `mer` uses the CPUs of one machine.

Three things every long command needs, in one place:

* **Threads.** A command has a budget of CPU threads (``--threads``, default
  :data:`DEFAULT_THREADS` = 1: parallelism comes from ``--jobs`` worker processes).
  With ``jobs`` worker processes each worker gets ``budget // jobs`` threads (at least
  one) for BLAS, OpenMP and torch, set before those libraries start their pools, so
  ``jobs`` workers never run ``jobs x cores`` spinning threads. OpenMP's idle threads
  sleep instead of spinning (:func:`quiet_openmp`, ``OMP_WAIT_POLICY=PASSIVE``, set by
  the command line before torch loads). Measured under load (one busy process per
  core, ``python benchmarks/threads.py``): the former default (a thread per core)
  cost several times the CPU of one thread for the same work.
* **Compiled-code cache.** librosa's numba functions are compiled once and cached on
  disk. numba's cache is not safe for concurrent writers: two processes compiling the
  same function at once give the index of one and the machine code of the other, and
  a later run that loads it crashes (segmentation fault). Each `mer` process therefore
  compiles into a cache folder of its own (:func:`claim_numba_cache`): a numbered slot
  under one base folder, held with an exclusive file lock for the life of the process,
  so a slot is written by one process at a time and reused by the next run.
* **Ctrl-C.** :class:`WorkerPool` workers ignore SIGINT; on an interrupt (or any error)
  the parent ends every worker at once instead of waiting for the queued files, and
  :class:`Interrupted` carries how far the work got. The CLI turns it into one line and
  exit code 130 (:func:`interrupt_once`, :func:`interrupted_message`).

It also tunes glibc's allocator (:func:`tune_malloc`), where the system time of a
run went: giving every large freed buffer back to the kernel and faulting it in again.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Iterator

#: Environment variables that size the thread pools of BLAS / OpenMP libraries when they load.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                   "NUMEXPR_NUM_THREADS")

#: Threads of a command's budget when ``--threads`` is not given: one per process.
DEFAULT_THREADS = 1

#: Seconds a worker gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE_S = 1.0


def quiet_openmp() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless set: idle OpenMP threads sleep instead of spinning.

    Read once, when the OpenMP runtime loads (with torch): call before. An explicit
    setting in the environment is kept.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_budget: int | None = None


def thread_budget() -> int:
    """The CPU threads a run may use in all (:func:`set_thread_budget`, default :func:`available_cores`)."""
    return _budget or available_cores()


def set_thread_budget(threads: int | None) -> None:
    """Set the run's thread budget (None: back to the default, :func:`available_cores`)."""
    global _budget
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    _budget = threads


def threads_per_worker(jobs: int, threads: int | None = None) -> int:
    """Threads each of `jobs` workers gets from a budget of `threads` (default :func:`thread_budget`); at least 1."""
    return max(1, (threads or thread_budget()) // max(1, jobs))


def _set_thread_env(n: int) -> dict[str, str | None]:
    before = {var: os.environ.get(var) for var in THREAD_ENV_VARS}
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(n)
    return before


def _restore_env(before: dict[str, str | None]) -> None:
    for var, value in before.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


def budget_limit() -> contextlib.AbstractContextManager:
    """:func:`limit_threads` to the budget where one was set (:func:`set_thread_budget`, the CLI), else nothing.

    Work done in this process takes the whole budget; a library caller that set none
    keeps its own thread settings.
    """
    return limit_threads(_budget) if _budget else contextlib.nullcontext()


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """This process's BLAS / OpenMP (threadpoolctl) and torch intra-op threads set to `n` for the block.

    The environment variables are set too, so libraries loaded inside the block and
    processes started from it size their pools the same. Everything is restored after.
    """
    from threadpoolctl import threadpool_limits

    env = _set_thread_env(n)
    torch = sys.modules.get("torch")
    torch_before = torch.get_num_threads() if torch is not None else None
    try:
        with threadpool_limits(limits=n):
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        _restore_env(env)
        torch = sys.modules.get("torch")
        if torch is not None:
            # torch loaded inside the block started with `n` threads; leave it as the block found it
            torch.set_num_threads(torch_before or max(1, int(os.environ.get("OMP_NUM_THREADS") or available_cores())))


# --------------------------------------------------------------------------- allocator

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc <malloc.h>
#: Buffers up to this size come from the heap and stay mapped after free (bytes).
MALLOC_KEEP_BYTES = 1 << 30
_malloc_tuned = False


def tune_malloc() -> bool:
    """Let glibc keep freed memory for reuse instead of unmapping it after every large buffer.

    glibc serves allocations above a threshold (at most 32 MiB) with a fresh ``mmap`` and
    unmaps them on free, so each new spectrogram or torch activation of a 30-s clip is
    zero-filled page by page by the kernel. Measured with ``/usr/bin/time -v mer predict
    -q -f csv --cache-dir <fresh>`` (default model: descriptors and two musicnn
    embeddings) over 20 real 4Q clips on 2 cores: before, 48.0 s user, 17.9 s system,
    10.2 million minor page faults, 891 MB peak RSS; with this (and ``--threads``),
    47.4 s user, 1.1 s system, 0.18 million minor faults, 960 MB peak RSS.
    ``benchmarks/cpu_use.py`` compares the two settings alone (10 clips: system time
    13x and minor faults 44x lower, user time within 4%; peak RSS 847 vs 879 MB there,
    968 vs 856 MB over 2 clips: freed memory stays with the process for reuse until it
    exits).

    Returns True where applied (Linux with glibc), False elsewhere; safe to call twice.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_KEEP_BYTES)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_KEEP_BYTES))
    except (OSError, AttributeError):  # musl or another libc without mallopt
        return False
    _malloc_tuned = ok
    return ok


# --------------------------------------------------------------------------- numba cache

_numba_base: Path | None = None
_numba_slot: tuple[int, Path] | None = None  # (locked fd, folder), held for the life of the process


def numba_cache_base() -> Path:
    """The folder under which each process gets its numba cache slot.

    ``$MER_NUMBA_CACHE`` (set by :func:`claim_numba_cache` for the processes this one
    starts), else ``$NUMBA_CACHE_DIR`` as the user set it when first asked, else ``numba``
    in the user cache folder of `mer` (code, not features: shared by every ``--cache-dir``).
    """
    global _numba_base
    if _numba_base is None:
        env = os.environ.get("MER_NUMBA_CACHE") or os.environ.get("NUMBA_CACHE_DIR")
        if env:
            _numba_base = Path(env).expanduser()
        else:
            from platformdirs import user_cache_dir

            _numba_base = Path(user_cache_dir("mer", appauthor=False)) / "numba"
    return _numba_base


def claim_numba_cache(base: str | os.PathLike | None = None) -> Path:
    """Give this process a numba cache folder that no other process writes while it runs.

    Takes the first free ``slot-<k>`` under `base` (default :func:`numba_cache_base`),
    holding an exclusive ``flock`` on it until the process exits (the kernel drops the
    lock even on SIGKILL), and points ``NUMBA_CACHE_DIR`` there. Must run before
    librosa's numba functions are defined (numba picks the cache folder when it
    decorates a function): first thing in a worker or command. Where no slot can be
    locked (no ``fcntl``, read-only base) a private temporary folder is used, so that
    the process compiles again but never shares a cache.

    Functions numba decorated in this process before the call keep their cache folder.

    Returns the folder.
    """
    global _numba_slot
    if _numba_slot is not None:
        return _numba_slot[1]
    root = Path(base) if base is not None else numba_cache_base()
    try:
        import fcntl

        for k in range(1024):
            folder = root / f"slot-{k}"
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            _numba_slot = (fd, folder)
            break
    except (ImportError, OSError):
        pass
    if _numba_slot is None:
        _numba_slot = (-1, Path(tempfile.mkdtemp(prefix="mer-numba-")))
    folder = _numba_slot[1]
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    os.environ.setdefault("MER_NUMBA_CACHE", str(root))  # child processes take slots beside this one
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.config.CACHE_DIR = str(folder)  # read when a function is decorated, so this still counts
    return folder


# --------------------------------------------------------------------------- workers and Ctrl-C


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch: `done` of `total` items are finished (and cached)."""

    def __init__(self, done: int, total: int):
        super().__init__(f"{done} of {total} done")
        self.done, self.total = done, total


def interrupted_message(exc: BaseException) -> str:
    """The one line the CLI prints for an interrupt."""
    if isinstance(exc, Interrupted):
        return f"interrupted: {exc.done} of {exc.total} done; run again to resume"
    return "interrupted; run again to resume"


def init_worker(threads: int, numba_base: str | None) -> None:
    """Set up a worker process before it imports numpy / librosa / torch for its first task.

    SIGINT is ignored (a terminal's Ctrl-C reaches the whole process group; the parent
    decides and ends the workers), the thread budget is applied, and the worker takes
    its own numba cache slot.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_thread_env(threads)
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    if "numpy" in sys.modules or "torch" in sys.modules:  # preloaded by the fork server: too late for env
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
    tune_malloc()
    claim_numba_cache(numba_base)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block (main thread only): a second Ctrl-C must not break the cleanup."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class WorkerPool:
    """Up to `jobs` worker processes for independent tasks; ended at once on Ctrl-C or an error.

    ::

        with WorkerPool(jobs) as pool:
            futures = [pool.submit(fn, *args) for args in tasks]
            for fut in pool.as_completed(futures):
                use(fut.result())

    Workers start in a fork server (spawn where there is none), run
    :func:`init_worker` with ``threads // jobs`` threads each, and ignore SIGINT.
    Leaving the block normally waits for the workers; leaving it by any exception
    (KeyboardInterrupt included) cancels the queued tasks and terminates every worker
    (SIGTERM, then SIGKILL after :data:`TERMINATE_GRACE_S`), so results already
    received are kept and nothing runs on. Work of a worker cut off mid-task is lost;
    writes made atomically (``mer.core.io.atomic_open``) are never seen half-done.

    Parameters
    ----------
    jobs : int
        Worker processes.
    threads : int, optional
        Thread budget shared by the workers (default :func:`thread_budget`).
    """

    def __init__(self, jobs: int, *, threads: int | None = None):
        self.jobs = max(1, int(jobs))
        self.threads_each = threads_per_worker(self.jobs, threads)
        ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        self._executor = ProcessPoolExecutor(max_workers=self.jobs, mp_context=ctx, initializer=init_worker,
                                             initargs=(self.threads_each, str(numba_cache_base())))
        self._futures: list[Future] = []

    def submit(self, fn: Callable, *args, **kwargs) -> Future:
        fut = self._executor.submit(fn, *args, **kwargs)
        self._futures.append(fut)
        return fut

    def as_completed(self, futures: Iterable[Future]) -> Iterator[Future]:
        """The futures as they finish (an interrupt reaches the caller while it waits)."""
        return as_completed(list(futures))

    def terminate(self) -> None:
        """Cancel what has not started and end every worker now; returns within about 2 s."""
        with _sigint_ignored():
            processes = list((getattr(self._executor, "_processes", None) or {}).values())
            _quiet_exit_wakeup(self._executor)
            self._executor.shutdown(wait=False, cancel_futures=True)
            for p in processes:
                with contextlib.suppress(Exception):
                    p.terminate()
            for p in processes:
                with contextlib.suppress(Exception):
                    p.join(TERMINATE_GRACE_S)
                    if p.is_alive():
                        p.kill()
                        p.join(TERMINATE_GRACE_S)
            # Let the executor's manager thread see the ended workers and finish, so that
            # nothing of the pool is left running when the process exits.
            manager = getattr(self._executor, "_executor_manager_thread", None)
            if manager is not None:
                manager.join(2 * TERMINATE_GRACE_S)

    def close(self) -> None:
        """Wait for the submitted tasks and let the workers exit."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.close()
        else:
            self.terminate()
        return False


def _quiet_exit_wakeup(executor: ProcessPoolExecutor) -> None:
    """Make the wake-up of `executor`'s manager thread ignore a pipe that is being closed.

    Python 3.11's ``concurrent.futures`` exit hook wakes every executor's manager thread
    through a pipe that the thread itself may be closing at that moment, after its
    workers were ended (3.12 added a lock). After an interrupt the race printed
    "Exception ignored ... OSError: [Errno 9] Bad file descriptor" below our one-line
    message, in about 1 of 4 interrupted runs on a loaded 2-core machine, with or without
    waiting for the thread. The pipe only says "look again"; a write that finds it
    closed has nothing left to say.
    """
    wakeup = getattr(executor, "_executor_manager_thread_wakeup", None)
    if wakeup is None or getattr(wakeup, "_mer_quiet", False):
        return
    send = wakeup.wakeup

    def wake() -> None:
        with contextlib.suppress(OSError):
            send()

    wakeup.wakeup = wake
    wakeup._mer_quiet = True


@contextlib.contextmanager
def interrupt_once() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt once in the block; later ones are ignored while it stops.

    For the CLI edge: the first SIGINT starts a clean stop (workers ended, one line,
    exit 130); a second one during that stop must not print a traceback or leave
    processes behind. The previous handler is restored when the block ends normally;
    after an interrupt SIGINT stays ignored until the process exits.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    fired = []

    def on_sigint(signum, frame):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fired.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        if not fired:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def cli_run(threads: int | None) -> Iterator[None]:
    """Everything a long CLI command sets up, undone after (so in-process callers see no change).

    The thread budget (`threads`, default :data:`DEFAULT_THREADS`) applies to this process
    and is split across worker processes; the process gets its own numba cache slot and
    the allocator tuning; SIGINT is handled by :func:`interrupt_once`.
    """
    budget = threads or DEFAULT_THREADS
    previous = _budget
    tune_malloc()
    claim_numba_cache()
    set_thread_budget(budget)
    try:
        with limit_threads(budget), interrupt_once():
            yield
    finally:
        set_thread_budget(previous)
