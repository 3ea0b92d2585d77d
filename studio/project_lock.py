"""One project, one writer: the window that edits a project holds ``<project>.lock`` beside it.

A second window on the same project (another ``adapter-studio`` process, or another window of this
one) does not get the lock and opens the project read-only, saying who holds it; so two windows
never overwrite each other's settings. Only windows take the lock: the training worker and the CLI
write runs and metrics, never the settings a window shows.

How the lock is held:

- where ``fcntl`` exists (Linux, macOS): an exclusive ``flock`` on the lock file, kept while the
  window has the project open. The kernel drops it when the process ends however it ends (SIGKILL,
  a crash), so a dead holder never blocks anyone. The file also records who holds it (pid, host,
  user, since) for the message a second window shows. ``flock`` does not reach across machines on
  every network file system, so a record written by another host whose file was touched in the last
  `STALE_AFTER_S` seconds counts as held even when ``flock`` succeeds (the holder touches it every
  `TOUCH_EVERY_S`);
- elsewhere (Windows): the file is created exclusively; a record left by a process of this host
  that no longer runs, or by another host and not touched for `STALE_AFTER_S`, is stale and taken over.

Locks held by this process are also kept in `_HELD`, because ``flock`` locks taken by two
descriptors of one process do exclude each other, but a window should learn *which* window holds it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STALE_AFTER_S = 300.0
TOUCH_EVERY_S = 60.0

_HELD: dict[Path, "ProjectLock"] = {}
"""Lock file -> the lock this process holds on it (its `owner` is the window)."""


def lock_path(project: str | os.PathLike[str]) -> Path:
    """The lock file of a project file: ``<name>.adapterstudio.lock`` beside it."""
    project = Path(project).absolute()
    return project.with_name(project.name + ".lock")


def _pid_alive(pid: int | None) -> bool:
    from core.store import pid_alive

    return pid_alive(pid)


class ProjectLock:
    """The writer's lock of one project file. ``acquire()`` -> True when this window may write."""

    def __init__(self, project: str | os.PathLike[str], owner: Any = None) -> None:
        self.project = Path(project).absolute()
        self.path = lock_path(self.project)
        self.owner = owner
        self.holder: dict[str, Any] | None = None
        """Who holds it when `acquire` failed: {"pid", "host", "user", "since"}, plus "owner" (the
        window) when it is this process."""
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self.held:
            return True
        mine = _HELD.get(self.path)
        if mine is not None and mine is not self:
            self.holder = {**mine._record(), "owner": mine.owner}
            return False
        try:
            ok = self._acquire_flock() if fcntl is not None else self._acquire_exclusive()
        except OSError as exc:  # a read-only folder, a file system without locks: say so, never crash
            self.holder = {"error": f"{self.path}: {exc.strerror or exc}"}
            return False
        if ok:
            _HELD[self.path] = self
        return ok

    def _record(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "user": _user(), "since": time.time()}

    def _write_record(self, fd: int) -> None:
        data = json.dumps(self._record()).encode()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.fsync(fd)

    def _acquire_flock(self) -> bool:
        for _ in range(5):  # the file may be unlinked by a releasing holder between open and flock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self.holder = _read(self.path)
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # locked an unlinked file: try the new one
                os.close(fd)
                continue
            record = _read(self.path)
            if record and record.get("host") != socket.gethostname() and _fresh(self.path):
                # Another machine's window on a network file system whose flock does not reach us.
                self.holder = record
                os.close(fd)
                return False
            return self._take(fd)
        self.holder = _read(self.path)
        return False

    def _take(self, fd: int) -> bool:
        """Hold the lock through ``fd``, with this process's record in the file."""
        self._write_record(fd)
        self._fd = fd
        return True

    def _acquire_exclusive(self) -> bool:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                record = _read(self.path)
                if _stale(self.path, record):
                    self.path.unlink(missing_ok=True)
                    continue
                self.holder = record
                return False
            return self._take(fd)
        self.holder = _read(self.path)
        return False

    def touch(self) -> None:
        """Show other hosts that the holder is alive (every `TOUCH_EVERY_S`, from the window's timer)."""
        if self.held:
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if _HELD.get(self.path) is self:
            del _HELD[self.path]
        if fcntl is not None:
            _unlink(self.path)  # while still locked: nobody locks a file that is about to vanish
            os.close(fd)  # drops the flock
        else:
            os.close(fd)  # Windows cannot delete a file that is open
            _unlink(self.path)


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container without passwd entry): not needed
        return ""


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fresh(path: Path) -> bool:
    try:
        return time.time() - path.stat().st_mtime < STALE_AFTER_S
    except OSError:
        return False


def _stale(path: Path, record: dict[str, Any]) -> bool:
    """A lock file nobody holds any more: its process is gone (this host), or it is old (another host)."""
    if not record:
        return not _fresh(path)  # being written right now, or an empty leftover
    if record.get("host") == socket.gethostname():
        return not _pid_alive(record.get("pid"))
    return not _fresh(path)
