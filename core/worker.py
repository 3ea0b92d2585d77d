"""The training worker: ``python -m core.worker PROJECT_FILE --run RUN_ID``.

Runs one run recorded in a project file (`core.store`): loads the model, builds the adapter from the
run's method config, prepares the data, runs `core.train.train` and

- prints every event as one protocol line (`core.protocol`, JSON Lines) on stdout, flushed per line;
  anything else a library prints goes to stderr, so stdout carries protocol lines only;
- records every event in the project file from a writer thread (batched, at least twice a second,
  at once for checkpoints and the end) and refreshes the run's heartbeat every
  `core.store.HEARTBEAT_INTERVAL_S`, so any reader can tell a live run from a dead one.

A run with a checkpoint (stopped, interrupted, failed) is resumed from its newest checkpoint.

Stop: a ``stop`` line (or an encoded `core.protocol.Stop`) on stdin, SIGTERM, SIGINT, or
`core.store.Project.request_stop` from any process (polled twice a second) -> the loop
finishes its step, writes a checkpoint, emits ``Finished("stopped")`` and the worker exits 0.
End of stdin is *not* a stop: the parent may simply have gone away. SIGHUP is ignored.

Pause: a ``pause`` line (or `core.protocol.Pause`), or `core.store.Project.request_pause` from any
process (polled with the stop request) -> the loop holds after its current step and emits
`Paused`; the run keeps its memory, its heartbeat and its place (``runs.paused_since`` is set in the
project file). ``continue`` (`core.protocol.Continue`, `Project.request_continue`) -> `Continued`, training goes on. A stop while
paused checkpoints and finishes as stopped.

Several processes (``torchrun --nproc_per_node N -m core.worker PROJECT ID``, or
``accelerate launch -m core.worker PROJECT ID``; the run id goes second there because torchrun takes
``--run`` for an abbreviation of its own ``--run-path``): the N processes train one run. Process 0 claims the run,
records it, prints the protocol on stdout and reads commands on stdin; the others read nothing from
the project file (process 0 hands them the run's settings) and write nothing to it or to stdout —
their warnings and errors go to stderr, prefixed ``[rank R]``. Stop and pause are agreed by all
processes at a step boundary (SIGTERM, which launchers forward, may reach any of them). A process
that fails leaves a note for process 0 and exits at once, so the others lose their connection to it
within seconds (not the 30-minute collective timeout) and the launcher ends the job; the run is
recorded as failed with "Process R failed: <its reason>", and the last good checkpoint stays.

Exit status: 0 completed or stopped, 1 failed (the reason is in the `Failed` event and in the
project file), 2 the run could not be started at all (bad arguments, project file unusable, run busy).

How a GUI (or any parent) should start it, so that the run outlives the window::

    QProcess: program = sys.executable, arguments = ["-u", "-m", "core.worker", path, "--run", str(id)],
              and start it in its own session — on POSIX pass
              ``setChildProcessModifier(os.setsid)`` (Qt >= 6.6); with subprocess:
              ``subprocess.Popen([...], stdin=PIPE, stdout=PIPE, start_new_session=True)``.
              On Windows use ``CREATE_NEW_PROCESS_GROUP | DETACHED_PROCESS``.

A new session means Ctrl-C in the parent's terminal and the terminal closing do not reach the
worker; closing the pipes does not stop it either. To stop: write ``stop\\n`` to its stdin, or send
SIGTERM, or — from a window that re-attached and has no pipe — call ``Project.request_stop(run_id)``.
If it has not exited after a grace period, SIGKILL: the run then shows as interrupted and resumes
from its last checkpoint. To re-attach after a restart, read the project file: the run's
status, heartbeat and metrics are all there.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from core import protocol
from core.errors import explain
from core.runs import worker_command  # the argv that starts this module; kept here for callers that know it
from core.protocol import Event, Failed, Finished, Heartbeat, Log
from core.store import HEARTBEAT_INTERVAL_S, Project, ProjectFileError, ProjectSettings

__all__ = [
    "Job", "Trainer", "main", "run_job", "train_job", "worker_command", "launch_rank",
    "EXIT_OK", "EXIT_FAILED", "EXIT_NOT_STARTED",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_STARTED = 2
FLUSH_INTERVAL_S = 0.5
"""The writer thread records pending events at least this often."""
HEARTBEAT_LINE_S = 5.0
"""How often a `Heartbeat` line goes to stdout (a parent can tell a slow step from a hung pipe)."""


@dataclass
class Job:
    """What the worker hands the trainer: one run of one project."""

    project_path: Path
    run_id: int
    settings: ProjectSettings
    """The run's config snapshot (not the project's current settings)."""
    checkpoint_dir: Path
    """Where checkpoints go (``<artifacts>/run-<id>``)."""
    resume_from: Path | None
    """The newest checkpoint of the run, or None for a fresh start."""
    pause: threading.Event = field(default_factory=threading.Event)
    """Set while the run should hold paused (a ``pause`` command); cleared by ``continue``."""
    process_index: int = 0
    """This process's rank when a launcher started several (``torchrun``, ``accelerate launch``)."""
    num_processes: int = 1
    """How many processes train this run together."""


Trainer = Callable[[Job, threading.Event], Iterator[Event]]
"""Turns a job into events; must end with `Finished` or `Failed`, honour the stop flag and ``job.pause``."""


def launch_rank() -> tuple[int, int]:
    """(this process's rank, number of processes) as the launcher set them: ``torchrun`` /
    ``accelerate launch`` (``RANK``, ``WORLD_SIZE``), MPI (``PMI_*``, ``OMPI_COMM_WORLD_*``); (0, 1) alone."""

    def first(names: tuple[str, ...], default: int) -> int:
        for name in names:
            value = os.environ.get(name, "")
            if value.isdigit():
                return int(value)
        return default

    rank = first(("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK"), 0)
    world = first(("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"), 1)
    return rank, max(world, 1)


# --------------------------------------------------------------------------------------------------
# The real trainer: model + adapter + data + core.train.train


def train_job(job: Job, stop: threading.Event) -> Iterator[Event]:
    """Load everything the run's config names and run `core.train.train` on it, yielding its events.
    Errors while setting up end as a `Failed` event with a reason a person can act on."""
    step = 0
    try:
        import torch

        from core.data import DataConfig, prepare
        from core.quantize import load_base
        from core.methods.registry import config_from_dict
        from core.peft_model import get_peft_model
        from core.args import TrainingArguments
        from core.train import train

        settings = job.settings
        # Configs first: a typo in a setting fails in a second, not after a model load.
        args = TrainingArguments.from_dict(settings.training)
        data_settings = dict(settings.data)
        path = data_settings.get("path")
        if path and not Path(path).is_absolute() and (job.project_path.parent / path).exists():
            data_settings["path"] = str(job.project_path.parent / path)  # relative to the project folder
        data_config = DataConfig(**data_settings)
        peft_config = config_from_dict(settings.method_config, source=f"run {job.run_id}'s adapter settings")

        # Alone, a stop during the set-up ends the run at once; with several processes only the loop's
        # agreed check may end it (one process leaving early would leave the others waiting).
        alone = job.num_processes == 1
        yield Log("info", f"Loading model {settings.model} ...")
        # The base in the Training tab's precision: float32 / bfloat16 / float16, or 8-bit / 4-bit (core.quantize)
        model, tokenizer = load_base(
            settings.model, base_precision=args.base_precision, quant_type=args.quant_type,
            double_quant=args.double_quant, compute_dtype=args.compute_dtype, device=args.device,
        )
        if alone and stop.is_set():
            yield Finished("stopped", step=step, checkpoint=_str(job.resume_from))
            return
        yield Log("info", f"Preparing data from {data_config.path} ...")
        data = prepare(data_config, tokenizer)
        if alone and stop.is_set():
            yield Finished("stopped", step=step, checkpoint=_str(job.resume_from))
            return
        torch.manual_seed(args.seed)  # the adapter's initial weights follow the run's seed
        peft = get_peft_model(model, peft_config)
        if job.resume_from is not None:
            yield Log("info", f"Resuming from {job.resume_from}")
        yield from train(
            peft, tokenizer, data, args, job.checkpoint_dir,
            should_stop=stop, should_pause=job.pause, resume_from=job.resume_from, run_id=job.run_id,
        )
    except Exception as exc:  # noqa: BLE001 - every failure becomes an event, never a bare traceback
        yield _setup_failure(exc, job)


def _setup_failure(exc: BaseException, job: Job) -> Failed:
    problem = explain(exc)
    where = {"model": "The model could not be loaded", "data": "The dataset cannot be used",
             "config": "The run's settings are not valid"}.get(problem.kind, "Training could not start")
    return Failed(reason=f"{where}: {problem.message}", step=None, detail=problem.detail, kind=problem.kind,
                  checkpoint=_str(job.resume_from))


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


# --------------------------------------------------------------------------------------------------
# Output and recording


class _Emitter:
    """Writes protocol lines; survives the reader going away (the run goes on, recorded in the file)."""

    def __init__(self, out: TextIO) -> None:
        self._out: TextIO | None = out
        self._lock = threading.Lock()
        self._ended = False  # a Finished/Failed line was written

    def __call__(self, msg: protocol.Message) -> None:
        line = protocol.encode(msg) + "\n"
        with self._lock:
            if self._out is None or (self._ended and isinstance(msg, Heartbeat)):
                # the recorder thread may beat once more while the run closes: Finished/Failed stays the last line
                return
            self._ended = self._ended or isinstance(msg, (Finished, Failed))
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._out = None  # the parent closed the pipe: keep training, stop printing


class _ProcessLog:
    """The emitter of a process other than 0: nothing on stdout (process 0 speaks for the run); its
    warnings and errors on stderr, each line prefixed with its rank."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __call__(self, msg: protocol.Message) -> None:
        if isinstance(msg, Log) and msg.level in ("warning", "error"):
            text = f"{msg.level}: {msg.message}"
        elif isinstance(msg, Failed):
            text = f"failed: {msg.reason}" + (f"\n{msg.detail.rstrip()}" if msg.detail else "")
        else:
            return
        try:
            sys.stderr.write("".join(f"[rank {self.rank}] {line}\n" for line in text.splitlines()))
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


class _Recorder(threading.Thread):
    """The only writer of the project file in the worker: records batches of events and heartbeats.

    A failed write (disk full, lock held too long) is reported on stderr and retried with the next
    batch; training is never stopped by the bookkeeping."""

    def __init__(self, project_path: Path, run_id: int, emit: _Emitter, stop: threading.Event,
                 pause: threading.Event) -> None:
        super().__init__(name="project-recorder", daemon=True)
        self.project_path, self.run_id, self.emit, self.stop, self.pause = project_path, run_id, emit, stop, pause
        self.pid = os.getpid()
        self._cond = threading.Condition()
        self._pending: list[Event] = []
        self._queued = 0  # events ever put
        self._recorded = 0  # events ever recorded
        self._closing = False
        self._urgent = False
        self.last_step: int | None = None

    def put(self, event: Event, *, urgent: bool = False) -> None:
        with self._cond:
            self._pending.append(event)
            self._queued += 1
            if isinstance(event, protocol.Step):
                self.last_step = event.step
            if urgent:
                self._urgent = True
                self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Block until everything put so far is recorded; False on timeout."""
        with self._cond:
            target = self._queued
            self._urgent = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._recorded >= target or not self.is_alive(), timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self.join(timeout)

    def run(self) -> None:
        project = Project.open(self.project_path)
        last_beat = last_line = time.monotonic()
        try:
            while True:
                with self._cond:
                    if not self._urgent and not self._closing:
                        self._cond.wait(FLUSH_INTERVAL_S)
                    batch, self._pending = self._pending, []
                    n, self._urgent, closing = self._queued, False, self._closing
                now = time.monotonic()
                try:
                    if batch:
                        project.record(self.run_id, batch, pid=self.pid)  # also refreshes the heartbeat
                        last_beat = now
                    elif now - last_beat >= HEARTBEAT_INTERVAL_S:
                        project.heartbeat(self.run_id, pid=self.pid)
                        last_beat = now
                    if not self.stop.is_set() and project.stop_requested(self.run_id):
                        # Project.request_stop from another process (a re-attached GUI)
                        _apply(protocol.Stop(), self.stop, self.pause, self.emit)
                    wanted = project.take_pause_request(self.run_id)  # Project.request_pause/_continue
                    if wanted is not None:
                        _apply(protocol.Pause() if wanted else protocol.Continue(), self.stop, self.pause, self.emit)
                except Exception as exc:  # noqa: BLE001
                    print(f"adapter-studio worker: could not write to {self.project_path.name} ({exc}); retrying", file=sys.stderr)
                    with self._cond:
                        self._pending = batch + self._pending
                    time.sleep(FLUSH_INTERVAL_S)
                    continue
                with self._cond:
                    self._recorded = n
                    self._cond.notify_all()
                if now - last_line >= HEARTBEAT_LINE_S:
                    self.emit(Heartbeat(step=self.last_step))
                    last_line = now
                if closing:
                    return
        finally:
            project.close()
            with self._cond:
                self._cond.notify_all()


def _read_commands(stream: TextIO, stop: threading.Event, pause: threading.Event, emit: _Emitter) -> None:
    """stdin reader: ``stop`` sets the stop flag, ``pause`` / ``continue`` set / clear the pause flag;
    other lines are reported and ignored; EOF is not a stop."""
    for line in stream:
        if not line.strip():
            continue
        try:
            command = protocol.decode_command(line)
        except protocol.ProtocolError as exc:
            emit(Log("warning", f"ignored input line: {exc}"))
            continue
        _apply(command, stop, pause, emit)


def _apply(command: protocol.Command, stop: threading.Event, pause: threading.Event, emit: _Emitter) -> None:
    """A command from stdin or from the project file sets or clears the loop's flags (repeats are no-ops)."""
    if isinstance(command, protocol.Stop) and not stop.is_set():
        stop.set()
        emit(Log("info", "Stop requested: finishing this step and writing a checkpoint."))
    elif isinstance(command, protocol.Pause) and not pause.is_set():
        pause.set()
        emit(Log("info", "Pause requested: pausing after this step."))
    elif isinstance(command, protocol.Continue) and pause.is_set():
        pause.clear()


# --------------------------------------------------------------------------------------------------
# Running a job


class _NotStarted(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _claim(project_path: Path, run_id: int, pause: threading.Event, rank: int, world: int) -> Job:
    """Process 0 claims the run in the project file; with several processes it then hands the run's
    settings to the others (which never open the file). Raises `_NotStarted` on every process."""
    payload: dict | None = None
    if rank == 0:
        try:
            with contextlib.closing(Project.open(project_path)) as project:
                if project.readonly:
                    raise ProjectFileError(project.readonly_reason or "read-only")
                run = project.claim_run(run_id)
                last = project.last_checkpoint(run_id)
            payload = {"settings": run.config.to_dict(), "checkpoint_dir": str(run.checkpoint_dir),
                       "resume_from": None if last is None else str(last)}
        except Exception as exc:  # noqa: BLE001 - the others must hear of it too
            payload = {"error": str(exc).strip("'\""), "detail": "".join(traceback.format_exception(exc))}
    if world > 1:
        payload = _from_process_0(payload)
    assert payload is not None
    if "error" in payload:
        raise _NotStarted(payload["error"], payload["detail"])
    resume = payload["resume_from"]
    return Job(project_path, run_id, ProjectSettings.from_dict(payload["settings"]), Path(payload["checkpoint_dir"]),
               None if resume is None else Path(resume), pause=pause, process_index=rank, num_processes=world)


def _from_process_0(payload: dict | None) -> dict:
    """Join the launcher's process group (the one `core.train`'s Accelerator then uses) and receive
    process 0's payload. Joining first means the run is claimed only once every process is up."""
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    PartialState(cpu=not torch.cuda.is_available())
    box = [payload]
    broadcast_object_list(box, from_process=0)
    return box[0]


def run_job(
    project_path: str | os.PathLike[str],
    run_id: int,
    *,
    out: TextIO,
    stop: threading.Event | None = None,
    trainer: Trainer | None = None,
    commands: TextIO | None = None,
    pause: threading.Event | None = None,
) -> int:
    """Claim the run, train it with `trainer` (default `train_job`), print protocol lines to `out`
    and record every event in the project file. `commands`: a stream of command lines (stdin) read
    by a background thread (stop sets `stop`, pause / continue set / clear `pause`).
    Under a launcher's several processes (`launch_rank`) only process 0 claims, records, prints and
    reads `commands`. Returns the exit status (`EXIT_OK`, `EXIT_FAILED`, `EXIT_NOT_STARTED`)."""
    rank, world = launch_rank()
    stop = stop or threading.Event()
    pause = pause or threading.Event()
    emit: Callable[[protocol.Message], None]
    if rank == 0:
        emit = _Emitter(out)
        if commands is not None:
            threading.Thread(target=_read_commands, args=(commands, stop, pause, emit), name="commands", daemon=True).start()
    else:
        emit = _ProcessLog(rank)
    trainer = trainer or train_job
    project_path = Path(project_path).absolute()
    try:
        job = _claim(project_path, run_id, pause, rank, world)
    except _NotStarted as exc:
        emit(Failed(reason=f"The run cannot start: {exc.reason}", kind="config", detail=exc.detail))
        return EXIT_NOT_STARTED

    recorder = _Recorder(project_path, run_id, emit, stop, pause) if rank == 0 else None  # type: ignore[arg-type]
    if recorder is not None:
        recorder.start()

    def record(event: Event, urgent: bool) -> None:
        if recorder is not None:
            recorder.put(event, urgent=urgent)

    final: Event | None = None
    try:
        for event in trainer(job, stop):
            if isinstance(event, protocol.Started) and event.run_id is None:
                event = dataclasses.replace(event, run_id=run_id)
            emit(event)
            terminal = isinstance(event, (Finished, Failed))
            # At once: the end, checkpoints, and pause/continue (a window re-attached through the file shows them).
            record(event, terminal or isinstance(event, (protocol.Checkpoint, protocol.Paused, protocol.Continued)))
            if terminal:
                final = event
                break
        if final is None:  # the trainer ended without saying how: never leave the run "running"
            final = (
                Finished("stopped") if stop.is_set()
                else Failed(reason="Training ended without a result (an internal error); see the log.", kind="error")
            )
            emit(final)
            record(final, True)
    except BaseException as exc:  # noqa: BLE001 - a trainer bug or KeyboardInterrupt: record it, then exit
        final = Failed(
            reason=f"The worker failed: {type(exc).__name__}: {exc}", detail="".join(traceback.format_exception(exc)),
            kind="error", checkpoint=_str(job.resume_from),
        )
        emit(final)
        record(final, True)
    finally:
        if recorder is not None:
            recorder.close()
    if rank != 0 and isinstance(final, Failed):
        from core.agreement import note_failure

        note_failure(job.checkpoint_dir, rank, final)  # process 0 records why the run failed
    return EXIT_OK if isinstance(final, Finished) else EXIT_FAILED


def _protocol_stdout() -> TextIO:
    """A private copy of stdout for protocol lines; fd 1 (print, C libraries) then goes to stderr."""
    sys.stdout.flush()
    fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0, closefd=False), write_through=True)
    return io.TextIOWrapper(os.fdopen(fd, "wb", buffering=0), encoding="utf-8", line_buffering=True, write_through=True)


def main(argv: list[str] | None = None, *, trainer: Trainer | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m core.worker", description="Train one run of a project file.")
    parser.add_argument("project", metavar="PROJECT_FILE")
    parser.add_argument("--run", type=int, metavar="RUN_ID")
    # The run id may also come second, for launchers whose own parser takes `--run` for an abbreviation
    # of one of theirs (torchrun: "ambiguous option: --run could match --run-path").
    parser.add_argument("run_id", type=int, nargs="?", metavar="RUN_ID", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if (args.run is None) == (args.run_id is None):
        parser.error("give the run once: --run RUN_ID (or RUN_ID after the project file)")
    args.run = args.run if args.run is not None else args.run_id

    out = _protocol_stdout()
    stop, pause = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    code = run_job(args.project, args.run, out=out, stop=stop, pause=pause, trainer=trainer, commands=sys.stdin)
    if launch_rank()[1] > 1:
        _leave_process_group(code, out)
    return code


def _leave_process_group(code: int, out: TextIO) -> None:
    """End a process of a multi-process run. After a failure: exit at once — the interpreter's exit
    (atexit handlers, process-group teardown) can wait on peers that are gone or stuck, and the
    launcher needs this process to end to tear the others down. After success every process is at the
    same point, so the process group is taken down in order."""
    if code != EXIT_OK:
        for stream in (out, sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
    with contextlib.suppress(Exception):
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
