"""The GUI's side of a training worker (`core.worker`): start, read, stop, re-attach.

`WorkerClient` runs ``python -u -m core.worker PROJECT --run ID`` in its own session
(so the run outlives the window), parses its stdout as protocol lines (`core.protocol`), and hands
the events to the GUI in batches on a ~10 Hz timer (`events`) — never one signal per line, so a
worker that prints 10 000 steps a second costs the GUI ten repaints a second. A line that is not a
protocol message is reported (`malformed`) and skipped; stderr goes to `stderr_text`.

Stop is cooperative first: a ``stop`` line on stdin (or, for a re-attached run with no pipe,
`Project.request_stop`), then SIGTERM after `STOP_GRACE_S`, then SIGKILL after `KILL_GRACE_S`.
Signals go to the child's process group (it leads its own session): the plain worker and, for a
run started through ``accelerate launch`` (`core.launch`), the launcher with the single process it
started; torchrun's ranks live in sessions of their own, so the launcher forwards SIGTERM to them,
and SIGKILL is sent to every descendant's group as well (a killed launcher forwards nothing).

Pause / Continue: `pause` and `continue_` write `core.protocol.Pause` / `Continue` on stdin; the
worker answers `Paused` / `Continued` (`paused` follows those answers, not the requests). A
re-attached run has no pipe: the requests go through the project file (`Project.request_pause` /
`request_continue`, polled by the worker), and its paused state is read from the run's ``paused_since``.

A run started by an earlier window has no pipe: `attach` polls the project file instead
(`Project.events(run_id, after=...)`, the run's status and heartbeat): the store turns new rows into
the same events. Either way the client ends with `ended(status, reason)` where status is the run's
effective status (``completed``, ``stopped``, ``failed``, ``interrupted``); a worker that dies
without a `Finished` / `Failed` line (SIGKILL, a crash) ends as ``interrupted`` at once (the pipe
sees the exit), which the window shows as "crashed" with Resume.

No torch, no Qt widgets: `core.protocol` and `core.store` only.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from core import protocol

FLUSH_MS = 100
"""Buffered events go to the GUI this often (~10 Hz)."""
POLL_MS = 500
"""A re-attached run's project file is read this often."""
STOP_GRACE_S = 8.0
"""After a stop request, how long the worker may take to checkpoint before SIGTERM."""
KILL_GRACE_S = 4.0
"""After SIGTERM, how long before SIGKILL."""
MALFORMED_KEEP = 50


class WorkerClient(QObject):
    """One training run seen from the GUI: a child worker (`start`) or a run found running (`attach`)."""

    events = Signal(list)
    """A batch of `core.protocol` events, in order (emitted at most every `FLUSH_MS`)."""
    malformed = Signal(str)
    """A stdout line that is not a protocol message, with the reason (the line is skipped)."""
    stderr_text = Signal(str)
    """The worker's stderr (library output, warnings), as it comes."""
    ended = Signal(str, str)
    """(effective status, reason): completed / stopped / failed / interrupted; reason for failed/interrupted."""

    def __init__(self, project_path: str | os.PathLike[str], run_id: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project_path = Path(project_path).absolute()
        self.run_id = run_id
        self.process: subprocess.Popen | None = None
        self._notifiers: list[QSocketNotifier] = []
        self.pid: int | None = None
        self.attached = False
        self.final: protocol.Event | None = None
        self.status = "queued"
        self.malformed_lines: list[str] = []
        self.lines = 0
        self._buffer: list[protocol.Event] = []
        self._partial = b""
        self._done = False
        self._stop_at: float | None = None
        self.paused = False
        """True between the worker's `Paused` and `Continued` (or the end); a request alone does not set it."""
        self.paused_since: float | None = None
        self.pause_requested: bool | None = None
        """The last request sent: True pause, False continue, None none pending (cleared by the answer)."""
        self.launched = False
        """True when the argv is an ``accelerate launch`` (set by the caller, for the log and the docs)."""
        self._group = False  # signals go to the child's process group (we started it in its own session)
        self._after_id = 0
        self._flush = QTimer(self, interval=FLUSH_MS)
        self._flush.timeout.connect(self.flush)
        self._poll = QTimer(self, interval=POLL_MS)
        self._poll.timeout.connect(self._poll_store)
        self._escalate = QTimer(self, singleShot=True)
        self._escalate.timeout.connect(self._on_escalate)

    # ---- starting ---------------------------------------------------------------------------------

    def start(self, program: list[str] | None = None) -> None:
        """Start the worker (or ``program``, an argv — tests replay protocol lines with it).

        A `subprocess.Popen` in its own session with non-blocking pipes read through
        `QSocketNotifier`s, rather than a `QProcess`: a QProcess kills its child when it is destroyed,
        and a run kept "running in the background" must outlive the window and the app."""
        from core.runs import worker_command, worker_env

        argv = program or worker_command(self.project_path, self.run_id)
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=worker_env(),
                cwd=str(self.project_path.parent), start_new_session=True, bufsize=0,
            )
        except OSError as exc:
            self.status = "failed"
            QTimer.singleShot(0, lambda: self._end("failed", f"The worker could not start: {exc}"))
            return
        self.process = proc
        self.pid = proc.pid
        self._group = True
        self.status = "running"
        self._notifiers = []
        for stream, handler in ((proc.stdout, self._read_stdout), (proc.stderr, self._read_stderr)):
            os.set_blocking(stream.fileno(), False)
            notifier = QSocketNotifier(stream.fileno(), QSocketNotifier.Type.Read, self)
            notifier.activated.connect(handler)
            self._notifiers.append(notifier)
        self._flush.start()

    @staticmethod
    def _drain(stream: Any) -> tuple[bytes, bool]:
        """Everything readable now from a non-blocking pipe, and whether it reached EOF."""
        chunks = []
        while True:
            try:
                chunk = os.read(stream.fileno(), 1 << 16)
            except BlockingIOError:
                return b"".join(chunks), False
            except (OSError, ValueError):
                return b"".join(chunks), True
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)

    def attach(self) -> None:
        """Follow a run that a worker started elsewhere trains: replay its metrics, then poll the file."""
        self.attached = True
        with fresh_reader(self.project_path) as project:
            run = project.run(self.run_id)
        self.pid = run.pid
        self.status = run.status
        self._flush.start()
        self._poll_store()
        if not self._done:
            self._poll.start()

    @property
    def running(self) -> bool:
        return not self._done

    # ---- reading ---------------------------------------------------------------------------------

    def _read_stdout(self, *_: Any) -> None:
        if self.process is None or self._done:
            return
        data, eof = self._drain(self.process.stdout)
        data = self._partial + data
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            self.feed_line(raw)
        if eof:
            self._stream_closed(0)

    def feed_line(self, raw: bytes | str) -> None:
        """Parse one stdout line into the buffer; a malformed one is reported, never raised."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not raw.strip():
            return
        self.lines += 1
        try:
            msg = protocol.decode(raw)
        except protocol.ProtocolError as exc:
            text = f"{exc}"
            if len(self.malformed_lines) < MALFORMED_KEEP:
                self.malformed_lines.append(text)
            self.malformed.emit(text)
            return
        if isinstance(msg, protocol.Stop):
            return
        if isinstance(msg, (protocol.Finished, protocol.Failed)):
            self.final = msg
            self.paused, self.pause_requested = False, None
        elif isinstance(msg, protocol.Paused):
            self.paused, self.paused_since, self.pause_requested = True, msg.time, None
        elif isinstance(msg, protocol.Continued):
            self.paused, self.paused_since, self.pause_requested = False, None, None
        self._buffer.append(msg)

    def _read_stderr(self, *_: Any) -> None:
        if self.process is None or self._done:
            return
        data, eof = self._drain(self.process.stderr)
        if data:
            self.stderr_text.emit(data.decode("utf-8", errors="replace"))
        if eof:
            self._stream_closed(1)

    def _stream_closed(self, index: int) -> None:
        notifier = self._notifiers[index]
        notifier.setEnabled(False)
        if index == 0:  # stdout closed: the worker exits (or died); reap it
            self._wait_exit()

    def _wait_exit(self) -> None:
        if self._done or self.process is None:
            return
        code = self.process.poll()
        if code is None:
            QTimer.singleShot(20, self._wait_exit)  # closed its stdout, exiting now
            return
        self._on_finished(code)

    def flush(self) -> None:
        """Hand the buffered events to the GUI (the ~10 Hz timer calls this)."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.events.emit(batch)

    # ---- polling (re-attached runs) -------------------------------------------------------------

    def _poll_store(self) -> None:
        if not self.attached or self._done:
            return
        from core.store import ProjectFileError

        # The status is read before the metrics, so a run seen ended has all its rows in this read.
        try:
            with fresh_reader(self.project_path) as project:
                run = project.run(self.run_id)
                events, self._after_id = project.events(self.run_id, after=self._after_id)
        except (ProjectFileError, OSError, sqlite3.Error) as exc:  # busy or moved: try again at the next poll
            self.malformed.emit(f"could not read the project file ({exc}); retrying")
            return
        self._buffer.extend(events)
        # The pause as the file records it (`Run.paused_since`, None when running): turned into the same
        # events a pipe would carry. getattr: a store without the column reads as never paused.
        since = getattr(run, "paused_since", None)
        if run.status == "running" and (since is not None) != self.paused:
            if since is not None:
                self._buffer.append(protocol.Paused(step=run.step, time=since))
                self.paused, self.paused_since = True, since
            else:
                waited = time.time() - self.paused_since if self.paused_since else 0.0
                self._buffer.append(protocol.Continued(step=run.step, paused_seconds=max(0.0, waited)))
                self.paused, self.paused_since = False, None
            self.pause_requested = None
        if run.status != "running":
            self.paused = False
            self.flush()
            reason = run.error or ("" if run.status != "interrupted" else "The worker is gone (no heartbeat).")
            self._end(run.status, reason)

    # ---- pause / continue ------------------------------------------------------------------------

    @property
    def can_pause(self) -> bool:
        """Whether this window can pause / continue the run: through the pipe to its worker (the window
        started it), or through the project file (`Project.request_pause`) for a re-attached run."""
        if self._done:
            return False
        if self.process is not None:
            return self.process.stdin is not None and not self.process.stdin.closed and self.process.poll() is None
        return self.attached

    def pause(self) -> bool:
        """Ask the worker to pause after its current step (it answers `core.protocol.Paused`). Returns
        False when the request could not be sent (no pipe, the run ended)."""
        return self._command(protocol.Pause(), True)

    def continue_(self) -> bool:
        """Ask a paused worker to go on (it answers `core.protocol.Continued`)."""
        return self._command(protocol.Continue(), False)

    def _command(self, command: protocol.Command, pause: bool) -> bool:
        if not self.can_pause:
            return False
        if self.process is not None:
            try:
                self.process.stdin.write((protocol.encode(command) + "\n").encode())
                self.process.stdin.flush()
            except (OSError, ValueError):
                return False
        else:  # re-attached: through the project file (the worker polls it twice a second)
            from core.store import Project

            with Project.open(self.project_path) as project:
                getattr(project, "request_pause" if pause else "request_continue")(self.run_id)
        self.pause_requested = pause
        return True

    # ---- stopping --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to checkpoint and exit; SIGTERM after `STOP_GRACE_S`, SIGKILL after `KILL_GRACE_S` more."""
        if self._done or self._stop_at is not None:
            return
        self._stop_at = time.monotonic()
        if self.process is not None and self.process.poll() is None:
            try:
                self.process.stdin.write(b"stop\n")
                self.process.stdin.flush()
            except OSError:
                pass
        else:
            from core.store import Project

            with Project.open(self.project_path) as project:
                project.request_stop(self.run_id)
        self._escalate.start(int(STOP_GRACE_S * 1000))

    def _on_escalate(self) -> None:
        if self._done or self.pid is None:
            return
        elapsed = time.monotonic() - (self._stop_at or time.monotonic())
        sig = signal.SIGTERM if elapsed < STOP_GRACE_S + KILL_GRACE_S / 2 else signal.SIGKILL
        if not self.signal(sig):
            return
        if sig == signal.SIGTERM:
            self._escalate.start(int(KILL_GRACE_S * 1000))

    def signal(self, sig: int) -> bool:
        """Send `sig` to the worker: to its process group when this client started it (the plain worker,
        or an accelerate launcher with what it started); SIGKILL also to every descendant's group,
        because torchrun starts each rank in a session of its own and a killed launcher forwards
        nothing. A re-attached run gets it at its recorded pid. False when there is no such process."""
        if self.pid is None:
            return False
        if not self._group:
            try:
                os.kill(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                return False
            return True
        others = _descendants(self.pid) if sig == signal.SIGKILL else []
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        for pid in others:
            try:
                os.killpg(os.getpgid(pid), sig)
            except (ProcessLookupError, PermissionError):
                pass
        return True

    def detach(self) -> None:
        """Stop following the run (the window closes; the worker goes on in its own session)."""
        self._flush.stop()
        self._poll.stop()
        self._escalate.stop()
        if self.process is not None:
            for notifier in self._notifiers:
                notifier.setEnabled(False)
            self._close_pipes()  # the worker keeps training (a broken pipe only stops its printing)
        self._done = True

    # ---- the end ---------------------------------------------------------------------------------

    def _on_finished(self, code: int) -> None:
        self._read_stderr()
        if self._partial.strip():
            self.feed_line(self._partial)
            self._partial = b""
        self.flush()
        final = self.final
        if isinstance(final, protocol.Finished):
            self._end(final.status, "")
        elif isinstance(final, protocol.Failed):
            self._end("failed", final.reason)
        else:
            how = f"was killed ({signal.Signals(-code).name})" if code < 0 else f"exited with status {code}"
            reason = f"The worker {how} without finishing the run (crashed). Resume continues from the last checkpoint."
            self._record_crash(reason)
            self._end("interrupted", reason)

    def _record_crash(self, reason: str) -> None:
        """Write the crash into the project file at once (the file would say so only after the pid check)."""
        try:
            from core.store import Project

            with Project.open(self.project_path) as project:
                project.record_crash(self.run_id, reason)
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never break the window
            print(f"adapter-studio: could not record the crash of run {self.run_id}: {exc}", file=sys.stderr)

    def _end(self, status: str, reason: str) -> None:
        if self._done:
            return
        self._done = True
        self.status = status
        self._flush.stop()
        self._poll.stop()
        self._escalate.stop()
        for notifier in self._notifiers:  # EOF stays "readable": a live notifier would fire forever
            notifier.setEnabled(False)
        if self.process is not None and self.process.poll() is not None:
            self._close_pipes()
        self.ended.emit(status, reason)

    def _close_pipes(self) -> None:
        """Close our ends of the worker's pipes."""
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass


def _descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux: read from /proc; elsewhere none are found)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def fresh_reader(path: str | os.PathLike[str]) -> Any:
    """A new connection to an (already opened, already checked) project file, closed after the ``with``.

    For figures that must be current while a worker writes; skips `Project.open`'s checks (the window
    did them). Both symptoms that led here — a long-lived connection reading an old snapshot, and
    "database disk image is malformed" on open — came from `Project.open` reading the file's header
    with a plain ``open()``: closing it dropped this process's POSIX locks on the database (fixed in
    `core.store`)."""
    from contextlib import closing

    from core.store import Project

    return closing(Project.reopen(path))


def clock(seconds: Any) -> str:
    """``h:mm:ss`` (or ``?``)."""
    if seconds is None:
        return "?"
    seconds = int(max(0, float(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
