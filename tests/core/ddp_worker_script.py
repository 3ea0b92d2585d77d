"""Run by tests/core/test_worker.py under `torchrun --nproc_per_node 2`: the real worker
(`core.worker.main`), with a fault injected on one process only — a test-only stand-in for a crash on
one GPU. Usage: ddp_worker_script.py FAIL_RANK FAIL_AT_FORWARD PROJECT_FILE RUN_ID

FAIL_RANK's FAIL_AT_FORWARD-th training forward pass (counted from this launch) raises."""

import faulthandler
import os
import sys

faulthandler.dump_traceback_later(120, exit=True)  # a hang prints where it is instead of waiting for the test's timeout

import core.train as train_mod  # noqa: E402
from core import worker  # noqa: E402

fail_rank, fail_at = int(sys.argv[1]), int(sys.argv[2])
if int(os.environ.get("RANK", 0)) == fail_rank:
    real_loss_sum, calls = train_mod._loss_sum, [0]

    def failing_loss_sum(model, batch):
        if model.training:  # training forwards only, not evaluation
            calls[0] += 1
            if calls[0] == fail_at:
                raise RuntimeError(f"injected fault on process {fail_rank}")
        return real_loss_sum(model, batch)

    train_mod._loss_sum = failing_loss_sum
sys.exit(worker.main(sys.argv[3:]))
