"""mer.core.parallel: thread budgets split across workers, exclusive numba cache slots, workers ended on Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from mer.core import parallel


def test_the_thread_budget_is_split_across_workers():
    assert parallel.threads_per_worker(2, 8) == 4
    assert parallel.threads_per_worker(3, 8) == 2
    assert parallel.threads_per_worker(4, 2) == 1  # never below one
    previous = parallel._budget
    try:
        parallel.set_thread_budget(6)
        assert parallel.thread_budget() == 6 and parallel.threads_per_worker(3) == 2
        parallel.set_thread_budget(None)
        assert parallel.thread_budget() == parallel.available_cores() >= 1
        with pytest.raises(ValueError):
            parallel.set_thread_budget(0)
    finally:
        parallel.set_thread_budget(previous)


def _thread_settings() -> tuple[str | None, list[int]]:
    """In a worker: the OMP variable and the thread counts threadpoolctl sees after numpy loads."""
    import numpy  # noqa: F401  (loads OpenBLAS after init_worker, as a task does)
    from threadpoolctl import threadpool_info

    return os.environ.get("OMP_NUM_THREADS"), sorted({d["num_threads"] for d in threadpool_info()})


def test_workers_get_their_share_of_the_thread_budget():
    with parallel.WorkerPool(2, threads=4) as pool:
        env, counts = pool.submit(_thread_settings).result(timeout=300)
    assert env == "2" and counts == [2], (env, counts)


_HOLD_SLOT = """
import sys
from mer.core.parallel import claim_numba_cache
print(claim_numba_cache(sys.argv[1]), flush=True)
sys.stdin.readline()
"""


def test_numba_cache_slots_are_held_by_one_process_at_a_time(tmp_path):
    def start():
        p = subprocess.Popen([sys.executable, "-c", _HOLD_SLOT, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        return p, p.stdout.readline().strip()

    a, slot_a = start()
    b, slot_b = start()
    try:
        assert slot_a != slot_b and {slot_a, slot_b} == {str(tmp_path / "slot-0"), str(tmp_path / "slot-1")}
    finally:
        for p in (a, b):
            p.communicate("\n", timeout=60)
    c, slot_c = start()  # the lock went with the process: the next one reuses the compiled code
    c.communicate("\n", timeout=60)
    assert slot_c == str(tmp_path / "slot-0")


@pytest.mark.slow  # measured over 10 s (issue 24, --durations on 2 busy cores)
def test_an_interrupt_ends_every_worker_and_cancels_the_queue():
    psutil = pytest.importorskip("psutil")
    with pytest.raises(KeyboardInterrupt):
        with parallel.WorkerPool(2, threads=2) as pool:
            futures = [pool.submit(time.sleep, 120) for _ in range(6)]
            deadline = time.monotonic() + 300  # safety net: the workers start within seconds
            while sum(f.running() for f in futures) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            workers = [psutil.Process(p.pid) for p in pool._executor._processes.values()]
            assert len(workers) == 2
            raise KeyboardInterrupt
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    # the executor's own thread marks the killed workers' tasks failed, a moment later
    from concurrent.futures import wait

    wait(futures, timeout=60)
    assert all(f.done() for f in futures) and any(f.cancelled() for f in futures)


def test_limit_threads_restores_torch():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with parallel.limit_threads(1):
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    assert torch.get_num_threads() == before


def test_interrupted_message_says_how_far_it_got():
    assert parallel.interrupted_message(parallel.Interrupted(3, 40)) == \
        "interrupted: 3 of 40 done; run again to resume"
    assert isinstance(parallel.Interrupted(0, 1), KeyboardInterrupt)  # callers' `except Exception` let it through


def test_the_exit_wakeup_of_an_ended_pool_ignores_a_closed_pipe():
    # Python 3.11's concurrent.futures exit hook may write to the manager thread's wake-up
    # pipe while the thread closes it; the write then fails with EBADF and Python printed
    # a traceback below our interrupt message. Here the pipe is closed under the wake-up.
    import errno
    from concurrent.futures import ProcessPoolExecutor

    class ClosingPipe:
        def send_bytes(self, data):
            raise OSError(errno.EBADF, "Bad file descriptor")

    executor = ProcessPoolExecutor(max_workers=1)
    executor.submit(int, 1).result(timeout=120)  # starts the manager thread
    wakeup = executor._executor_manager_thread_wakeup
    real_writer, wakeup._writer = wakeup._writer, ClosingPipe()
    try:
        with pytest.raises(OSError):
            wakeup.wakeup()
        parallel._quiet_exit_wakeup(executor)
        wakeup.wakeup()  # no error
    finally:
        wakeup._writer = real_writer
        executor.shutdown(wait=True)


def test_commands_default_to_one_thread_per_process_and_passive_openmp(monkeypatch):
    """Without --threads a command runs one thread per process (parallelism from --jobs), OpenMP passive."""
    import importlib

    import mer.apps.cli

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    importlib.reload(mer.apps.cli)
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")  # an explicit choice is kept
    parallel.quiet_openmp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    with parallel.cli_run(None):
        assert parallel.thread_budget() == parallel.DEFAULT_THREADS == 1
        assert parallel.threads_per_worker(4) == 1
