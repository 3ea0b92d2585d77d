"""A scripted stand-in for core.worker (a test fixture, not shipped): replays protocol lines fast.

    python fake_worker.py PROJECT --run ID --steps N [--malformed] [--wait-stop] [--fail REASON]

Prints Started, N Step lines (with an Eval every N//5 steps), optionally two malformed lines, then
either waits for ``stop`` on stdin (--wait-stop) and finishes "stopped", fails, or finishes "completed".
"""

import argparse
import json
import sys

parser = argparse.ArgumentParser()
parser.add_argument("project")
parser.add_argument("--run", type=int)
parser.add_argument("--steps", type=int, default=50)
parser.add_argument("--malformed", action="store_true")
parser.add_argument("--wait-stop", action="store_true")
parser.add_argument("--fail", default="")
args = parser.parse_args()
out = sys.stdout
n = args.steps


def emit(**msg):
    out.write(json.dumps({"v": 1, **msg}) + "\n")


emit(type="started", run_id=args.run, total_steps=n, device="fake")
every = max(1, n // 5)
chunk = []
for s in range(1, n + 1):
    loss = 3.0 / (1 + s / 100) + 0.1 * ((s * 7919) % 13) / 13
    emit(type="step", step=s, epoch=s / n, loss=loss, lr=1e-3 * (1 - s / (n + 1)), tokens_per_s=1234.0, elapsed_s=s * 0.01, eta_s=(n - s) * 0.01)
    if s % every == 0:
        emit(type="eval", step=s, eval_loss=loss * 1.1)
    if args.malformed and s == n // 2:
        out.write("this is not json\n")
        out.write(json.dumps({"v": 1, "type": "telepathy", "x": 1}) + "\n")
out.flush()
if args.wait_stop:
    for line in sys.stdin:
        if line.strip() == "stop":
            emit(type="finished", status="stopped", step=n)
            break
elif args.fail:
    emit(type="failed", reason=args.fail, step=n, kind="nan")
else:
    emit(type="finished", status="completed", step=n, loss=1.0)
out.flush()
