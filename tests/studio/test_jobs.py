"""studio.jobs.Runner: a job that ends after its window (and so its Runner) is gone is dropped quietly."""

from __future__ import annotations

import sys
import threading


def test_a_job_outliving_its_runner_is_dropped(qapp, monkeypatch):
    import shiboken6

    from studio.jobs import Runner

    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: errors.append(exc))
    runner = Runner()
    started, go = threading.Event(), threading.Event()

    def job():
        started.set()
        go.wait(10)
        return 1

    runner.submit(job)
    assert started.wait(10)
    pool = runner.pool
    pool.setParent(None)  # the pool (its thread) outlives the Runner, as when a window closes mid-job
    shiboken6.delete(runner)
    go.set()
    assert pool.waitForDone(10_000)
    qapp.processEvents()
    assert errors == []  # was: RuntimeError "Signal source has been deleted" from the pool thread
