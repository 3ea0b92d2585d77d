"""A scripted stand-in for core.worker (a test fixture, not shipped): replays protocol lines fast.

    python fake_worker.py PROJECT --run ID --steps N [--malformed] [--wait-stop] [--fail REASON]
    python fake_worker.py PROJECT --run ID --steps N --interactive [--step-ms MS]

Prints Started, N Step lines (with an Eval every N//5 steps), optionally two malformed lines, then
either waits for ``stop`` on stdin (--wait-stop) and finishes "stopped", fails, or finishes "completed".

--interactive obeys stdin commands as the real worker does (bare words or encoded `core.protocol`
commands): one step every --step-ms; ``pause`` -> a Paused line and no steps until ``continue`` ->
Continued (with the pause's length); ``stop`` -> Finished("stopped"); after N steps Finished("completed").
--command-log FILE records the commands it read (what a window sent, even after it let go of the pipes).
"""

import argparse
import json
import sys
import threading
import time

parser = argparse.ArgumentParser()
parser.add_argument("project")
parser.add_argument("--run", type=int)
parser.add_argument("--steps", type=int, default=50)
parser.add_argument("--malformed", action="store_true")
parser.add_argument("--wait-stop", action="store_true")
parser.add_argument("--fail", default="")
parser.add_argument("--interactive", action="store_true")
parser.add_argument("--step-ms", type=float, default=20.0)
parser.add_argument("--command-log", default="", help="--interactive: append each command received to this file")
args = parser.parse_args()
out = sys.stdout
n = args.steps
lock = threading.Lock()


def emit(**msg):
    with lock:
        out.write(json.dumps({"v": 1, **msg}) + "\n")
        if args.interactive:
            out.flush()


def loss_at(s):
    return 3.0 / (1 + s / 100) + 0.1 * ((s * 7919) % 13) / 13


def interactive():
    """Steps on a clock, commands from stdin (a reader thread sets the flags, the loop acts on them)."""
    state = {"pause": False, "stop": False}
    wake = threading.Condition()

    def read():
        for line in sys.stdin:
            text = line.strip().lower()
            if text.startswith("{"):
                text = json.loads(text).get("type", "")
            if args.command_log:
                with open(args.command_log, "a") as fh:
                    fh.write(text + "\n")
            with wake:
                if text == "pause":
                    state["pause"] = True
                elif text == "continue":
                    state["pause"] = False
                elif text == "stop":
                    state["stop"] = True
                wake.notify_all()

    threading.Thread(target=read, daemon=True).start()
    emit(type="started", run_id=args.run, total_steps=n, device="fake")
    start, paused_total = time.monotonic(), 0.0
    for s in range(1, n + 1):
        time.sleep(args.step_ms / 1000)
        elapsed = time.monotonic() - start - paused_total
        emit(type="step", step=s, epoch=s / n, loss=loss_at(s), lr=1e-3, tokens_per_s=1234.0,
             elapsed_s=elapsed, eta_s=(n - s) * args.step_ms / 1000)
        with wake:
            if state["pause"] and not state["stop"]:  # pause after this step, as the loop does
                began = time.monotonic()
                emit(type="paused", step=s, time=time.time())
                wake.wait_for(lambda: not state["pause"] or state["stop"])
                if not state["stop"]:
                    waited = time.monotonic() - began
                    paused_total += waited
                    emit(type="continued", step=s, paused_seconds=waited)
            if state["stop"]:
                emit(type="finished", status="stopped", step=s)
                return
    emit(type="finished", status="completed", step=n, loss=1.0)


if args.interactive:
    interactive()
    out.flush()
    sys.exit(0)

emit(type="started", run_id=args.run, total_steps=n, device="fake")
every = max(1, n // 5)
chunk = []
for s in range(1, n + 1):
    loss = loss_at(s)
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
