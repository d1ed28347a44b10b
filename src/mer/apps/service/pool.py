"""The service's analysis workers: a bounded pool of processes, each holding the model, with a timeout.

Analysis is CPU-bound (decoding, descriptors, musicnn) and must never run in the event
loop. The pool has ``workers`` *slots*; each slot is a one-process
:class:`~concurrent.futures.ProcessPoolExecutor` whose initializer applies the thread
budget (:func:`mer.core.parallel.init_worker`) and loads the model once. A request takes
a free slot, or waits for one when fewer than ``queue_size`` requests already wait;
otherwise :class:`QueueFull` (HTTP 503 with ``Retry-After``). An analysis that runs past
``timeout_s`` (:class:`AnalysisTimeout`, HTTP 504), or whose client went away, has its
process killed and the slot gets a fresh one: a timed-out task never keeps a CPU busy.

One process per slot (rather than one executor of ``workers`` processes) is what lets a
single stuck analysis be ended without breaking the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from mer.core import parallel
from mer.core.errors import MerError

#: Seconds between a worker's checks that the service process still runs.
WATCH_INTERVAL_S = 1.0

#: The model of this worker process (set by :func:`_init_worker`), or the MerError loading it raised.
_model = None
_model_error: str | None = None


def _service_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: a killed service not yet reaped by its parent is a zombie, gone all the same
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _watch_service(pid: int) -> None:
    """End this worker within a second or so of the service process ending, whatever it is doing.

    A service killed with SIGKILL cannot end its workers, and a worker cannot see it go
    otherwise: it holds both ends of its task queue's pipe (no end-of-file), and the fork
    server it came from lives as long as any of its children does.
    """
    def watch() -> None:
        while _service_alive(pid):
            time.sleep(WATCH_INTERVAL_S)
        os._exit(1)

    threading.Thread(target=watch, name="mer-service-watch", daemon=True).start()


def _init_worker(service_pid: int, threads: int, numba_base: str, model_path: str | None) -> None:
    """Worker initializer: a watch on the service, thread budget, numba cache slot, then the model, loaded once."""
    global _model, _model_error
    _watch_service(service_pid)
    parallel.init_worker(threads, numba_base)
    from mer.workflows.analysis import load_models

    try:
        _model = load_models(model_path)
    except MerError as exc:  # kept, and raised by every task: an initializer's exception breaks the pool unsaid
        _model_error = str(exc)


def worker_model():
    """The analysis models loaded by this worker process (:class:`mer.workflows.analysis.Models`: the
    clip model, ``--model`` or the shipped one, and the shipped window model); MerError if they could not be loaded."""
    if _model is None:
        raise MerError(_model_error or "the analysis worker has no model")
    return _model


def model_name() -> str:
    """Task run once per slot when the service starts: loads the model, returns its name."""
    return worker_model().clip.name


class QueueFull(Exception):
    """Every worker is busy and the waiting line is full (HTTP 503)."""


class AnalysisTimeout(Exception):
    """An analysis ran past the pool's timeout and was ended (HTTP 504)."""


class WorkerDied(Exception):
    """The worker process ended during a task (killed, out of memory): HTTP 500, the slot restarted."""


class _Slot:
    """One worker process (a one-process executor), replaced when its task must be ended."""

    def __init__(self, initargs: tuple):
        self.initargs = initargs
        self.executor = self._start()
        self.ready = None  # after a restart: the new process loading the model

    def _start(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver" if os.name == "posix" else "spawn")
        return ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker, initargs=self.initargs)

    def restart(self) -> None:
        """Kill the process now (SIGKILL: whatever it was doing is abandoned) and start a fresh executor."""
        old = self.executor
        processes = list((getattr(old, "_processes", None) or {}).values())
        old.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(Exception):
                p.kill()
        self.executor = self._start()
        self.ready = self.executor.submit(model_name)  # loads the model now, outside the next request's timeout

    def close(self) -> None:
        """End the worker (SIGTERM, then SIGKILL after a grace period) and release the executor's queues."""
        processes = list((getattr(self.executor, "_processes", None) or {}).values())  # shutdown forgets them
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(Exception):
                p.terminate()
                p.join(parallel.TERMINATE_GRACE_S)
                if p.is_alive():
                    p.kill()
        # the manager thread sees the ended worker and closes the queues; their semaphores are
        # released when the executor goes (else the resource tracker reports them "leaked" at exit)
        self.executor.shutdown(wait=True)
        self.executor = None


class AnalysisPool:
    """At most `workers` analyses at once, `queue_size` more waiting, each ended after `timeout_s`.

    Parameters
    ----------
    workers : int >= 1
        Worker processes, each with its own copy of the model.
    queue_size : int >= 0
        Requests that may wait for a worker; one more gets :class:`QueueFull`.
    model_path : path, optional
        The ``.mer`` model (default: the shipped one).
    timeout_s : float > 0
        Seconds an analysis may run.
    threads : int, optional
        Thread budget shared by the workers (default: the cores this process may use).

    Use from the event loop: ``await pool.start()`` (loads the model in every worker,
    returns its name), ``await pool.run(fn, *args)`` (`fn` a picklable function run in a
    worker; it reaches the model through :func:`worker_model`), ``pool.close()``.
    """

    def __init__(self, *, workers: int, queue_size: int, model_path: str | os.PathLike | None = None,
                 timeout_s: float, threads: int | None = None):
        if workers < 1 or queue_size < 0 or not timeout_s > 0:
            raise MerError(f"need workers >= 1, queue size >= 0 and a timeout > 0 s (got {workers}, {queue_size}, "
                           f"{timeout_s})")
        self.workers, self.queue_size, self.timeout_s = workers, queue_size, float(timeout_s)
        initargs = (os.getpid(), parallel.threads_per_worker(workers, threads), str(parallel.numba_cache_base()),
                    None if model_path is None else str(Path(model_path)))
        self._slots = [_Slot(initargs) for _ in range(workers)]
        self._free: asyncio.Queue | None = None
        self.waiting = 0

    @property
    def running(self) -> int:
        """Analyses running now."""
        return self.workers if self._free is None else self.workers - self._free.qsize()

    async def start(self) -> str:
        """Start every worker and load the model in each; the model's name. MerError if it cannot be loaded."""
        self._free = asyncio.Queue()
        loop = asyncio.get_running_loop()
        names = await asyncio.gather(*(loop.run_in_executor(s.executor, model_name) for s in self._slots))
        for s in self._slots:
            self._free.put_nowait(s)
        return names[0]

    def check_room(self) -> None:
        """QueueFull now if a request arriving now could neither run nor wait."""
        if self._free is None:
            raise QueueFull("the service is starting")
        if self._free.empty() and self.waiting >= self.queue_size:
            raise QueueFull(f"all {self.workers} workers are busy and {self.waiting} requests wait")

    async def _acquire(self) -> _Slot:
        self.check_room()
        if not self._free.empty():
            return self._free.get_nowait()
        self.waiting += 1
        try:
            return await self._free.get()
        finally:
            self.waiting -= 1

    async def run(self, fn: Callable, *args):
        """``fn(*args)`` in a worker process, when one is free; its result, or its exception re-raised."""
        slot = await self._acquire()
        ended = False  # the slot's process was killed (timeout, client gone): restart before reuse
        try:
            if slot.ready is not None:  # a restarted worker: its model load does not count against the timeout
                await asyncio.wait([asyncio.wrap_future(slot.ready)])
                slot.ready = None
            task = asyncio.get_running_loop().run_in_executor(slot.executor, fn, *args)
            return await asyncio.wait_for(task, self.timeout_s)
        except TimeoutError:
            ended = True
            raise AnalysisTimeout(f"the analysis took more than {self.timeout_s:g} s and was stopped") from None
        except BrokenProcessPool:
            ended = True
            raise WorkerDied("the analysis worker ended unexpectedly (out of memory?); try again") from None
        except asyncio.CancelledError:  # the request is gone: do not let its analysis run on
            ended = True
            raise
        finally:
            if ended:
                slot.restart()
            self._free.put_nowait(slot)

    def close(self) -> None:
        """End every worker (queued tasks are dropped)."""
        import gc

        for s in self._slots:
            s.close()
        gc.collect()  # the executors' queues (and their semaphores) go now, not at interpreter exit
