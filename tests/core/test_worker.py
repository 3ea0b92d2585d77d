"""core.worker: protocol on stdout, everything recorded, stop (stdin / SIGTERM), death -> interrupted,
outliving the parent — first against a fake trainer (fast, deterministic), then the real loop on tiny-llama."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core import protocol as p
from core import worker
from core.store import Project, ProjectSettings

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}

# A fake trainer that behaves like core.train.train: honours stop with a checkpoint, resumes from one,
# and prints noise to stdout (which must not reach the protocol stream).
FAKE = textwrap.dedent(
    """
    import sys, time
    from core import protocol as p
    from core import worker

    def fake(job, stop):
        print("noise from a library on stdout")
        n = int(job.settings.training["max_steps"])
        delay = float(job.settings.training.get("delay", 0.0))
        start = int(job.resume_from.name.split("-")[1]) if job.resume_from else 0
        yield p.Started(None, n, start_step=start)
        for s in range(start + 1, n + 1):
            time.sleep(delay)
            yield p.Step(s, s / n, 1.0 / s, 1e-3)
            if stop.is_set() or s == n:
                ck = job.checkpoint_dir / f"checkpoint-{s}"
                ck.mkdir(parents=True, exist_ok=True)
                yield p.Checkpoint(s, str(ck))
                if s < n:
                    yield p.Finished("stopped", step=s, checkpoint=str(ck))
                    return
        yield p.Finished("completed", step=n)

    sys.exit(worker.main(sys.argv[1:], trainer=fake))
    """
)


def make_project(tmp_path: Path, **training) -> Path:
    path = tmp_path / "w.adapterstudio"
    Project.create(
        path,
        ProjectSettings(model="tiny-llama", method_config={"peft_type": "LORA", "target_modules": ["q_proj"]},
                        data={"path": "d.jsonl"}, training={"max_steps": 5, **training}),
    ).close()
    return path


def new_run(path: Path, **overrides) -> int:
    with Project.open(path) as proj:
        return proj.create_run(training_overrides=overrides)


def start_fake(path: Path, run_id: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", FAKE, str(path), "--run", str(run_id)], env=ENV, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )


def read_until(proc: subprocess.Popen, kind: type, timeout: float = 30.0) -> list:
    events, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        events.append(p.decode(line))
        if isinstance(events[-1], kind):
            return events
    raise AssertionError(f"no {kind.__name__} in {events}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}")


def test_in_process_records_everything(tmp_path):
    path = make_project(tmp_path)
    run_id = new_run(path)

    def fake(job, stop):
        assert job.resume_from is None and job.checkpoint_dir.name == f"run-{run_id}"
        yield p.Started(None, 3)
        for s in (1, 2, 3):
            yield p.Step(s, s / 3, 1.0 / s, 1e-3)
        yield p.Eval(3, 0.9)
        yield p.Finished("completed", step=3, loss=1 / 3)

    out = io.StringIO()
    assert worker.run_job(path, run_id, out=out, trainer=fake) == worker.EXIT_OK
    events = [p.decode(line) for line in out.getvalue().splitlines()]
    assert events[0] == p.Started(run_id, 3)  # the worker fills in the run id
    assert isinstance(events[-1], p.Finished)
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "completed" and run.step == 3 and run.eval_loss == 0.9
        assert len(proj.metrics(run_id)) == 4


def test_trainer_exception_becomes_failed(tmp_path):
    path = make_project(tmp_path)
    run_id = new_run(path)

    def broken(job, stop):
        yield p.Started(None, 3)
        raise RuntimeError("kaput")

    out = io.StringIO()
    assert worker.run_job(path, run_id, out=out, trainer=broken) == worker.EXIT_FAILED
    last = p.decode(out.getvalue().splitlines()[-1])
    assert isinstance(last, p.Failed) and "kaput" in last.reason
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "failed" and "kaput" in run.error and "Traceback" in run.error_detail


def test_unknown_run_or_busy_run(tmp_path):
    path = make_project(tmp_path)
    out = io.StringIO()
    assert worker.run_job(path, 99, out=out, trainer=lambda j, s: iter(())) == worker.EXIT_NOT_STARTED
    assert "no run 99" in p.decode(out.getvalue()).reason


def test_bad_settings_fail_fast_with_reason(tmp_path):
    path = make_project(tmp_path)
    run_id = new_run(path, learning_rat=0.1)  # a typo
    out = io.StringIO()
    assert worker.run_job(path, run_id, out=out) == worker.EXIT_FAILED
    failed = p.decode(out.getvalue().splitlines()[-1])
    assert failed.kind == "config" and "learning_rat" in failed.reason
    with Project.open(path) as proj:
        assert "learning_rat" in proj.run(run_id).error


@pytest.mark.parametrize("how", ["stdin", "sigterm", "project-file"])
def test_stop_checkpoints_and_exits_zero_then_resume(tmp_path, how):
    path = make_project(tmp_path, max_steps=200, delay=0.05)
    run_id = new_run(path)
    proc = start_fake(path, run_id)
    read_until(proc, p.Step)
    with Project.open(path) as proj:
        assert proj.run(run_id).status == "running"
    if how == "stdin":
        proc.stdin.write("stop\n")
        proc.stdin.flush()
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:  # a GUI that re-attached to the run has no pipe to the worker
        with Project.open(path) as proj:
            proj.request_stop(run_id)
    events = read_until(proc, p.Finished)
    assert proc.wait(30) == 0
    assert events[-1].status == "stopped" and isinstance(events[-2], p.Checkpoint)
    assert "noise" in proc.stderr.read()  # library prints went to stderr, not into the protocol
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "stopped" and run.resumable
        stopped_at = run.step
        assert proj.last_checkpoint(run_id).name == f"checkpoint-{stopped_at}"
    # resume: the same run continues from its checkpoint
    proc = start_fake(path, run_id)
    started = read_until(proc, p.Started)[-1]
    assert started.start_step == stopped_at
    proc.stdin.write(p.encode(p.Stop()) + "\n")
    proc.stdin.flush()
    read_until(proc, p.Finished)
    assert proc.wait(30) == 0


def test_killed_worker_shows_as_interrupted(tmp_path):
    path = make_project(tmp_path, max_steps=1000, delay=0.05)
    run_id = new_run(path)
    proc = start_fake(path, run_id)
    read_until(proc, p.Step)
    time.sleep(1.5)  # the worker records at least twice a second
    proc.kill()
    proc.wait()
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.recorded_status == "running" and run.status == "interrupted"
        assert run.step >= 1  # what was recorded before the kill stays


PARENT = textwrap.dedent(
    """
    import subprocess, sys
    from core.worker import worker_command
    cmd = worker_command(sys.argv[1], int(sys.argv[2]))
    cmd[2:4] = ["-c", sys.argv[3]]  # run the fake trainer instead of `-m core.worker`
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True)
    proc.stdout.readline()  # the worker is up; now the parent leaves, closing both pipes
    print(proc.pid)
    """
)


def test_worker_outlives_its_parent(tmp_path):
    path = make_project(tmp_path, max_steps=30, delay=0.05)
    run_id = new_run(path)
    parent = subprocess.run([sys.executable, "-c", PARENT, str(path), str(run_id), FAKE], env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert parent.returncode == 0, parent.stderr
    deadline = time.time() + 30
    with Project.open(path) as proj:
        while proj.run(run_id).status == "running" and time.time() < deadline:
            time.sleep(0.1)
        run = proj.run(run_id)
        assert run.status == "completed", (run.status, run.error)
        assert run.step == 30 and len(proj.metrics(run_id)) == 30


def test_worker_command_shape(tmp_path):
    assert worker.worker_command(tmp_path / "x", 3)[1:] == ["-u", "-m", "core.worker", str(tmp_path / "x"), "--run", "3"]


# ---- the real loop ---------------------------------------------------------------------------------


def real_project(tmp_path: Path, **training) -> Path:
    data = tmp_path / "facts.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(24)))
    path = tmp_path / "real.adapterstudio"
    args = {"max_steps": 4, "batch_size": 4, "warmup_steps": 0, "eval_steps": 2, "save_steps": 2, "logging_steps": 1, **training}
    Project.create(
        path,
        ProjectSettings(model="tiny-llama", method_config={"peft_type": "LORA", "r": 4, "target_modules": ["q_proj", "v_proj"]},
                        data={"path": str(data), "max_length": 128, "validation_split": 0.25}, training=args),
    ).close()
    return path


def test_real_training_on_tiny_llama(tmp_path):
    path = real_project(tmp_path)
    run_id = new_run(path)
    proc = subprocess.run(worker.worker_command(path, run_id), env=ENV, capture_output=True, text=True, timeout=240,
                          stdin=subprocess.DEVNULL, cwd=REPO)
    events = [p.decode(line) for line in proc.stdout.splitlines()]  # every stdout line is a protocol line
    assert proc.returncode == 0, proc.stderr[-2000:]
    kinds = [type(e).__name__ for e in events]
    assert "Started" in kinds and kinds.count("Step") == 4 and "Eval" in kinds and "Checkpoint" in kinds
    assert events[-1] == p.Finished("completed", **{k: getattr(events[-1], k) for k in ("step", "loss", "eval_loss", "elapsed_s", "checkpoint")})
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "completed" and run.step == 4 and run.total_steps == 4
        assert [m["step"] for m in proj.metrics(run_id) if m["loss"] is not None] == [1, 2, 3, 4]
        ck = proj.last_checkpoint(run_id)
        assert ck is not None and ck.parent == run.checkpoint_dir and (ck / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_real_stop_and_resume_on_tiny_llama(tmp_path):
    path = real_project(tmp_path, max_steps=400, save_steps=0, eval_steps=0)
    run_id = new_run(path)
    proc = subprocess.Popen(worker.worker_command(path, run_id), env=ENV, text=True, cwd=REPO, start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    read_until(proc, p.Step, timeout=120)
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    events = read_until(proc, p.Finished, timeout=60)
    assert proc.wait(30) == 0 and events[-1].status == "stopped" and events[-1].step < 400
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "stopped" and proj.last_checkpoint(run_id).name == f"checkpoint-{run.step}"
        proj.update_run_config(run_id, {"max_steps": run.step + 2})
        stopped_at = run.step
    proc = subprocess.run(worker.worker_command(path, run_id), env=ENV, capture_output=True, text=True, timeout=240,
                          stdin=subprocess.DEVNULL, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [p.decode(line) for line in proc.stdout.splitlines()]
    started = next(e for e in events if isinstance(e, p.Started))
    assert started.start_step == stopped_at and started.resumed_from
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "completed" and run.step == stopped_at + 2
        assert [m["step"] for m in proj.metrics(run_id) if m["loss"] is not None] == list(range(1, stopped_at + 3))


def _send(proc: subprocess.Popen, line: str) -> None:
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def test_real_pause_continue_then_stop_while_paused(tmp_path):
    """A real worker (tiny-llama): pause holds after a step (Paused; runs.paused_since set; the heartbeat
    goes on, no step is taken), continue goes on (Continued), a pause through the project file works
    too, and a stop while paused checkpoints and finishes as stopped, clearing paused_since."""
    path = real_project(tmp_path, max_steps=400, save_steps=0, eval_steps=0)
    run_id = new_run(path)
    proc = subprocess.Popen(worker.worker_command(path, run_id), env=ENV, text=True, cwd=REPO, start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        first = read_until(proc, p.Step, timeout=120)[-1]
        t_first = time.perf_counter()  # the wall clock when the step arrived, to compare with the run's elapsed time
        _send(proc, "pause")
        paused = read_until(proc, p.Paused, timeout=60)[-1]
        with Project.open(path) as proj:
            time.sleep(0.3)  # Paused is recorded at once, but by another thread than the one that printed it
            run = proj.run(run_id)
            assert run.paused and run.paused_since == pytest.approx(paused.time) and run.status == "running"
            beat, rows = run.heartbeat, len(proj.metrics(run_id))
            time.sleep(2.6)  # > HEARTBEAT_INTERVAL_S
            run = proj.run(run_id)
            assert run.heartbeat > beat and run.paused and run.step == paused.step
            assert len(proj.metrics(run_id)) == rows  # no step while paused
        _send(proc, p.encode(p.Continue()))
        events = read_until(proc, p.Continued, timeout=30)
        assert events[-1].step == paused.step and events[-1].paused_seconds >= 2.5
        assert not any(isinstance(e, p.Step) for e in events)
        after = read_until(proc, p.Step, timeout=30)[-1]
        t_after = time.perf_counter()
        assert after.step == paused.step + 1
        # Paused time is left out of elapsed: the wall clock ran the paused seconds more than the run's own clock
        # (a margin for reading the pipe; a fixed bound on a step's time failed under load).
        assert (t_after - t_first) - (after.elapsed_s - first.elapsed_s) > events[-1].paused_seconds - 0.5
        with Project.open(path) as proj:
            assert not proj.run(run_id).paused
            proj.request_pause(run_id)  # the second pause through the file (a re-attached window has no pipe)
        second = read_until(proc, p.Paused, timeout=30)[-1]
        _send(proc, "stop")
        events = read_until(proc, p.Finished, timeout=60)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert [type(e).__name__ for e in events[-2:]] == ["Checkpoint", "Finished"]
    assert events[-1].status == "stopped" and events[-1].step == events[-2].step == second.step
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "stopped" and run.paused_since is None and run.step == second.step
        assert proj.last_checkpoint(run_id).name == f"checkpoint-{second.step}"


# ---- several processes (torchrun, 2 CPU processes) ----------------------------------------------------


def _torchrun(script: list[str]) -> list[str]:
    import socket

    with socket.socket() as sock:  # a free port: other test sessions may run torchrun at the same time
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
            "--master_port", str(port), *script]


def _start_torchrun(script: list[str], stderr_file) -> subprocess.Popen:
    env = {**ENV, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(_torchrun(script), env=env, text=True, cwd=REPO, start_new_session=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr_file)


def _rank_pid(launcher: subprocess.Popen, rank: int) -> int:
    import psutil

    for child in psutil.Process(launcher.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.environ().get("RANK") == str(rank):
                return child.pid
    raise AssertionError(f"no process of rank {rank} under {launcher.pid}")


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
def test_two_processes_are_one_run_pause_stop_resume_and_a_failing_process(tmp_path):
    """`torchrun --nproc_per_node 2 -m core.worker`: process 0 alone claims, records and prints; pause and
    continue reach it on stdin, a SIGTERM reaches process 1 only, and both processes act on them after the
    same step; the checkpoint holds both processes' RNG states. Then resumed with 2 processes, process 1 fails at its second step:
    the job ends within seconds, recorded as failed with process 1's reason, the last checkpoint kept."""
    path = real_project(tmp_path, max_steps=400, save_steps=0, eval_steps=0, batch_size=2)
    run_id = new_run(path)
    log = open(tmp_path / "torchrun-a.log", "w")
    proc = _start_torchrun(["-m", "core.worker", str(path), str(run_id)], log)
    try:
        started = read_until(proc, p.Started, timeout=180)[-1]
        assert started.num_processes == 2 and started.start_step == 0
        read_until(proc, p.Step, timeout=60)
        _send(proc, "pause")
        paused = read_until(proc, p.Paused, timeout=60)[-1]
        with Project.open(path) as proj:
            time.sleep(0.3)
            assert proj.run(run_id).paused
        _send(proc, "continue")
        assert read_until(proc, p.Continued, timeout=30)[-1].step == paused.step
        read_until(proc, p.Step, timeout=30)
        os.kill(_rank_pid(proc, 1), signal.SIGTERM)  # a stop that reaches process 1 only: agreed by both
        events = read_until(proc, p.Finished, timeout=60)
        assert proc.wait(60) == 0, (tmp_path / "torchrun-a.log").read_text()[-3000:]
        rest = [p.decode(line) for line in proc.stdout.read().splitlines()]  # every stdout line is a protocol line
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert not any(isinstance(e, p.Started) for e in events + rest)  # one Started: only process 0 prints
    assert events[-1].status == "stopped"
    stopped_at = events[-1].step
    ckpt = Path(events[-1].checkpoint)
    assert {"rng_state_0.pt", "rng_state_1.pt", "optimizer.pt", "adapter"} <= {q.name for q in ckpt.iterdir()}
    assert json.loads((ckpt / "trainer_state.json").read_text())["num_processes"] == 2
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "stopped" and run.step == stopped_at and run.paused_since is None
        # each step recorded once (process 1 writes nothing)
        assert [m["step"] for m in proj.metrics(run_id) if m["loss"] is not None] == list(range(1, stopped_at + 1))
        proj.update_run_config(run_id, {"save_steps": 1})

    # Resume with 2 processes; process 1's second training forward (step stopped_at + 2) raises.
    log = open(tmp_path / "torchrun-b.log", "w")
    proc = _start_torchrun([str(REPO / "tests/core/ddp_worker_script.py"), "1", "2", str(path), str(run_id)], log)
    try:
        started = read_until(proc, p.Started, timeout=180)[-1]
        assert started.start_step == stopped_at and started.resumed_from == str(ckpt) and started.num_processes == 2
        events = read_until(proc, p.Failed, timeout=120)
        failed_at = time.monotonic()
        code = proc.wait(60)
        ended_in = time.monotonic() - failed_at
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    stderr = (tmp_path / "torchrun-b.log").read_text()
    failed = events[-1]
    assert code != 0 and ended_in < 20, (ended_in, stderr[-3000:])
    assert "Process 1 failed" in failed.reason and "injected fault on process 1" in failed.reason, failed
    assert failed.step == stopped_at + 2
    assert [e.step for e in events if isinstance(e, p.Step)] == [stopped_at + 1]
    good = Path(failed.checkpoint)
    assert good.name == f"checkpoint-{stopped_at + 1}" and (good / "adapter" / "adapter_model.safetensors").is_file()
    assert "[rank 1] failed:" in stderr
    with Project.open(path) as proj:
        run = proj.run(run_id)
        assert run.status == "failed" and "Process 1 failed" in run.error and "injected fault" in run.error
        assert proj.last_checkpoint(run_id) == good


def test_finished_stays_the_last_protocol_line_when_a_heartbeat_comes_late():
    # the recorder thread can beat while the run closes (seen once in a fresh-clone run): drop beats after the end
    out = io.StringIO()
    emit = worker._Emitter(out)
    emit(p.Heartbeat(step=3))
    emit(p.Finished("completed", step=4))
    emit(p.Heartbeat(step=4))
    lines = [p.decode(line) for line in out.getvalue().splitlines()]
    assert [type(e).__name__ for e in lines] == ["Heartbeat", "Finished"]
