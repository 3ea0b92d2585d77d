"""The project file: one SQLite database per project (via sqlite-utils), artifacts in a folder beside it.

No torch and no Qt here: the GUI process imports this module.

Layout on disk::

    demo.adapterstudio              the SQLite file (WAL mode: -wal and -shm files appear beside it)
    demo.adapterstudio.artifacts/   checkpoints (run-<id>/checkpoint-<step>/) and exports

Paths inside the artifacts folder are stored relative to the project file's folder, so a project
folder can be moved or copied as a whole; the accessors return absolute paths.

Who writes what: the GUI / CLI writes settings and creates runs; the worker claims a run and records
its events (`Project.record`), and a heartbeat every `HEARTBEAT_INTERVAL_S`. The window writes a run's
rows only through named methods (`Project.add_log` for its launch line, `Project.record_crash` when it
saw the worker die) and reads a run another process trains back as events (`Project.events`), so the
mapping between events and rows lives here, both ways. Any reader can ask
`Project.runs()`: a run whose worker is gone (its pid no longer exists on this host, or its heartbeat
is older than `STALE_AFTER_S`) is reported as ``interrupted`` — never as ``running``.

Two processes at once: WAL lets readers read while one writer writes; every write is one short
transaction; a ``busy_timeout`` makes a writer wait for the other instead of failing.

Versions: ``PRAGMA application_id`` marks the file as ours, ``PRAGMA user_version`` is the schema
version. An older file is migrated forward on open (a copy of the original is kept beside it first);
a newer file opens read-only with `Project.readonly_reason` saying why; a corrupt or foreign file
raises `ProjectFileError` and is never written to.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from core import protocol
from core.errors import ProjectFileError, ReadOnlyProjectError

__all__ = [
    "SCHEMA_VERSION",
    "APPLICATION_ID",
    "PROJECT_SUFFIX",
    "HEARTBEAT_INTERVAL_S",
    "STALE_AFTER_S",
    "RUN_STATUSES",
    "ProjectFileError",
    "ReadOnlyProjectError",
    "ProjectSettings",
    "Run",
    "Project",
    "pid_alive",
]

SCHEMA_VERSION = 3
"""The schema this module writes. Bump it and append a function to `MIGRATIONS` to change the schema."""
APPLICATION_ID = 0x41445354  # "ADST": marks an SQLite file as an Adapter Studio project
PROJECT_SUFFIX = ".adapterstudio"
HEARTBEAT_INTERVAL_S = 2.0
"""How often a worker writes its heartbeat."""
STALE_AFTER_S = 30.0
"""A running run whose heartbeat is older than this is reported as interrupted."""
BUSY_TIMEOUT_MS = 15_000

RUN_STATUSES = ("queued", "running", "completed", "stopped", "failed", "interrupted")
"""``queued``: created, no worker has claimed it yet. ``running``: a live worker trains it.
``completed`` / ``stopped`` / ``failed``: ended as the worker reported. ``interrupted``: the worker
died without reporting (killed, crashed, machine off); resume from the last checkpoint."""
_LIVE = ("running",)
_SQLITE_HEADER = b"SQLite format 3\x00"



# --------------------------------------------------------------------------------------------------
# Schema and migrations


def _migrate_0_to_1(db: sqlite_utils.Database) -> None:
    """The first schema."""
    db["settings"].create(
        {
            "id": int,  # always 1: one row
            "name": str,
            "model": str,  # model reference: built-in name, folder, .gguf, cached hub id
            "method": str,  # PeftType value, e.g. "LORA"
            "method_config": str,  # JSON: PeftConfig.to_dict()
            "targets": str,  # JSON: target_modules (list, regex string, or null)
            "dataset": str,  # the dataset path (also inside data_config)
            "dataset_format": str,  # DataConfig.format
            "data_config": str,  # JSON: core.data.DataConfig as a dict
            "training": str,  # JSON: the training-arguments dataclass as a dict
            "created": float,
            "updated": float,
        },
        pk="id",
    )
    db["runs"].create(
        {
            "id": int,
            "name": str,
            "status": str,  # one of RUN_STATUSES (as last written; see Project.runs for the effective one)
            "config": str,  # JSON snapshot of the settings (+ overrides) the run trains with
            "pid": int,
            "host": str,
            "heartbeat": float,  # unix time of the worker's last sign of life
            "created": float,
            "started": float,
            "ended": float,
            "step": int,  # last optimizer step done
            "total_steps": int,
            "loss": float,  # last training loss
            "eval_loss": float,  # last eval loss
            "error": str,  # Failed.reason (person-readable)
            "error_detail": str,  # Failed.detail (traceback)
            "error_kind": str,  # Failed.kind
            "checkpoint_dir": str,  # folder holding this run's checkpoints (relative to the project folder)
            "stop_requested": float,  # unix time someone asked the run to stop through the file (or null)
        },
        pk="id",
        not_null={"status", "config", "created"},
        defaults={"status": "queued", "step": 0},
    )
    db["metrics"].create(
        {
            "id": int,
            "run_id": int,
            "step": int,
            "epoch": float,
            "loss": float,
            "eval_loss": float,  # set on eval rows (loss is null there)
            "lr": float,
            "grad_norm": float,
            "tokens_per_s": float,
            "elapsed_s": float,
            "eta_s": float,
            "time": float,  # unix time recorded
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metrics"].create_index(["run_id", "step"])
    db["checkpoints"].create(
        {"id": int, "run_id": int, "step": int, "path": str, "time": float},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["checkpoints"].create_index(["run_id", "step"])
    db["exports"].create(
        {
            "id": int,
            "run_id": int,
            "kind": str,  # "merged" | "adapter"
            "path": str,
            "checkpoint": str,  # the checkpoint exported
            "verified": int,  # 1 when the reload-and-compare check passed
            "detail": str,  # JSON: whatever the exporter reports (max difference, sizes...)
            "time": float,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["logs"].create(
        {"id": int, "run_id": int, "time": float, "level": str, "message": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["logs"].create_index(["run_id"])


def _migrate_1_to_2(db: sqlite_utils.Database) -> None:
    """Pause/continue: ``runs.paused_since`` (unix time the worker paused the run; null while it trains)
    and ``runs.pause_requested`` (a pending request through the file: 1 pause, 0 continue, null none)."""
    db["runs"].add_column("paused_since", float)
    db["runs"].add_column("pause_requested", int)


def _migrate_2_to_3(db: sqlite_utils.Database) -> None:
    """Evaluation inside every run (`core.evaluate`): ``samples`` (each evaluation prompt's greedy answer at
    each evaluation step, step 0 = the base model, with its scores), ``eval_scores`` (their means per
    step), and ``comparisons`` (blind A/B comparisons of two models and their verdicts)."""
    db["samples"].create(
        {
            "id": int,
            "run_id": int,
            "step": int,  # the optimizer step whose adapter answered; 0 = the base model
            "prompt_index": int,  # position in the run's fixed sample of evaluation prompts
            "prompt": str,  # as the model saw it (chat template or plain)
            "reference": str,
            "output": str,
            "exact_match": float,  # 0 or 1 (core.evaluate.normalize)
            "contains": float,  # 0 or 1
            "f1": float,  # token F1, 0-1
            "rouge_l": float,  # ROUGE-L F-measure, 0-1
            "time": float,
        },
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["samples"].create_index(["run_id", "step", "prompt_index"])
    db["eval_scores"].create(
        {"id": int, "run_id": int, "step": int, "n": int, "exact_match": float, "contains": float, "f1": float,
         "rouge_l": float, "time": float},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["eval_scores"].create_index(["run_id", "step"])
    db["comparisons"].create(
        {
            "id": int,
            "model_a": str,  # JSON: {"run_id": int | null (the base), "step": int | null (the last checkpoint)}
            "model_b": str,
            "label": str,  # e.g. "base vs run 2"
            "wins_a": int,
            "wins_b": int,
            "ties": int,
            "judge": str,  # "person" or the judge endpoint's model name
            "detail": str,  # JSON: the verdict per prompt
            "time": float,
        },
        pk="id",
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migrate_0_to_1, _migrate_1_to_2, _migrate_2_to_3]
"""``MIGRATIONS[i]`` takes a file from schema version i to i + 1. Append only; never edit a released one."""


# --------------------------------------------------------------------------------------------------
# Records


@dataclass
class ProjectSettings:
    """What a project trains: model, adapter method and config, data, training arguments.

    The dicts are the JSON forms of the config dataclasses (``PeftConfig.to_dict()``,
    ``dataclasses.asdict(DataConfig)``, ``dataclasses.asdict(TrainingArguments)``), so this module
    needs neither torch nor the classes.
    """

    model: str
    """Model reference (built-in name, folder, .gguf file, cached hub id)."""
    method_config: dict[str, Any]
    """The adapter config as ``PeftConfig.to_dict()`` writes it (includes ``peft_type``)."""
    data: dict[str, Any] = field(default_factory=dict)
    """``core.data.DataConfig`` as a dict (``path``, ``format``, ...)."""
    training: dict[str, Any] = field(default_factory=dict)
    """The training-arguments dataclass of ``core.train`` as a dict."""
    name: str = ""
    """A display name; defaults to the file's stem."""
    combined: dict[str, Any] | None = None
    """Only in a run's snapshot, for a run made by combining others (`core.combine`): the runs, weights and
    combination type it was made of. None for a trained run (and for the project's settings)."""

    @property
    def method(self) -> str:
        """The adapter method (``PeftType`` value, e.g. ``"LORA"``)."""
        return str(self.method_config.get("peft_type", ""))

    @property
    def targets(self) -> Any:
        """``target_modules`` of the method config (None for methods without targets)."""
        return self.method_config.get("target_modules")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the run's config snapshot); ``combined`` only when set."""
        out = {
            "name": self.name,
            "model": self.model,
            "method_config": self.method_config,
            "data": self.data,
            "training": self.training,
        }
        if self.combined is not None:
            out["combined"] = self.combined
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProjectSettings":
        return cls(
            model=data["model"],
            method_config=dict(data.get("method_config") or {}),
            data=dict(data.get("data") or {}),
            training=dict(data.get("training") or {}),
            name=data.get("name") or "",
            combined=data.get("combined"),
        )


@dataclass
class Run:
    """A training run as recorded, with `status` the effective status (see `Project.runs`)."""

    id: int
    name: str
    status: str
    recorded_status: str
    """The status as last written; differs from `status` when the worker died (``running`` vs ``interrupted``)."""
    config: ProjectSettings
    pid: int | None
    host: str | None
    heartbeat: float | None
    created: float
    started: float | None
    ended: float | None
    step: int
    total_steps: int | None
    loss: float | None
    eval_loss: float | None
    error: str | None
    error_detail: str | None
    error_kind: str | None
    checkpoint_dir: Path
    paused_since: float | None = None
    """Unix time the worker paused this run (a ``pause`` command), or None while it trains or when it is
    not running. Only meaningful while the run is alive: use `paused`."""

    @property
    def alive(self) -> bool:
        """True while a live worker trains this run."""
        return self.status == "running"

    @property
    def paused(self) -> bool:
        """True while a live worker holds this run paused (it keeps its heartbeat; ``continue`` resumes it)."""
        return self.alive and self.paused_since is not None

    @property
    def resumable(self) -> bool:
        """True when a worker may (re)start this run."""
        return self.status in ("queued", "stopped", "interrupted", "failed")


# --------------------------------------------------------------------------------------------------
# The project


def pid_alive(pid: int | None) -> bool:
    """True if a process with this id exists on this machine and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    try:  # Linux: a zombie (dead, not yet reaped by its parent) still answers kill(0)
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _now() -> float:
    return time.time()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Project:
    """An open project file. Create with `Project.create`, open with `Project.open`.

    One instance holds one SQLite connection: use it from one thread (a worker's writer thread opens
    its own). Close with `close()` or use it as a context manager.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly_reason: str | None) -> None:
        self.path = path
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self.readonly_reason = readonly_reason
        """None when writable; else the reason it is read-only (shown to the person)."""

    # ---- opening ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | os.PathLike[str], settings: ProjectSettings) -> "Project":
        """Create a new project file at `path` with `settings`. Refuses to touch an existing file."""
        path = Path(path).absolute()
        if path.exists() or path.is_symlink():
            raise ProjectFileError(f"{path} already exists; choose another name (an existing file is never overwritten).")
        if not path.parent.is_dir():
            raise ProjectFileError(f"{path.parent} is not a folder; create it first.")
        conn = _connect(path, readonly=False, create=True)
        try:
            with conn:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            project = cls(path, conn, readonly_reason=None)
            project._migrate(from_version=0)
            if not settings.name:
                settings.name = path.stem
            project.save_settings(settings)
        except BaseException:
            conn.close()
            for extra in ("", "-wal", "-shm"):
                Path(str(path) + extra).unlink(missing_ok=True)
            raise
        project.artifacts_dir.mkdir(exist_ok=True)
        return project

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> "Project":
        """Open an existing project file; migrates an older schema forward (unless `readonly`).

        A file written by a newer Adapter Studio opens read-only (see `readonly_reason`).
        Raises `ProjectFileError` when the file is missing, corrupt or not a project file.
        """
        path = Path(path).absolute()
        if not path.is_file():
            raise ProjectFileError(f"{path}: no such project file.")
        # No plain open() of the file here: closing ANY descriptor of a database file drops every POSIX
        # lock this process holds on it (fcntl semantics), so another Project open in the same process
        # (the GUI's window) would lose its WAL read lock — seen as stale reads and "database disk
        # image is malformed" while a worker wrote. SQLite itself says when a file is not a database.
        if os.path.getsize(path) < len(_SQLITE_HEADER):  # stat, not open: see above
            raise ProjectFileError(f"{path} is not an Adapter Studio project file (it is not an SQLite database).")
        conn = _connect(path, readonly=True)
        try:
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                check = conn.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                if "not a database" in str(exc):
                    raise ProjectFileError(f"{path} is not an Adapter Studio project file (it is not an SQLite database).") from None
                raise ProjectFileError(f"{path} is damaged and cannot be read ({exc}). It was left as it is.") from None
            if app_id != APPLICATION_ID:
                raise ProjectFileError(
                    f"{path} is an SQLite database but not an Adapter Studio project file; it was left as it is."
                )
            if check != "ok":
                raise ProjectFileError(f"{path} is damaged ({check}). It was left as it is; restore a backup.")
        finally:
            conn.close()
        reason = None
        if version > SCHEMA_VERSION:
            reason = (
                f"{path.name} was saved by a newer Adapter Studio (project format {version}; this version "
                f"reads up to {SCHEMA_VERSION}). It is open read-only: update Adapter Studio to change it."
            )
        elif readonly:
            reason = "opened read-only"
        conn = _connect(path, readonly=reason is not None)
        project = cls(path, conn, readonly_reason=reason)
        if reason is None and version < SCHEMA_VERSION:
            backup = path.with_name(f"{path.name}.v{version}.bak")
            if not backup.exists():
                with sqlite3.connect(backup) as dst:  # a consistent copy, even with a WAL
                    conn.backup(dst)
                dst.close()
            project._migrate(from_version=version)
        return project

    @classmethod
    def reopen(cls, path: str | os.PathLike[str]) -> "Project":
        """A new read-write connection to a project file this process already opened (and checked) with
        `open`; close it after use. For figures that must be current while a worker writes: a long-lived
        connection would keep reading an old snapshot. Skips `open`'s checks, which read the file's
        header and would cost a file open per refresh."""
        path = Path(path).absolute()
        return cls(path, _connect(path, readonly=False), readonly_reason=None)

    def _migrate(self, from_version: int) -> None:
        for version in range(from_version, SCHEMA_VERSION):
            with self._write():  # each step in one transaction: a failed migration leaves the old version
                if self.schema_version > version:
                    continue  # another process (GUI or worker) migrated it while we waited for the lock
                MIGRATIONS[version](self.db)
                self.conn.execute(f"PRAGMA user_version = {version + 1}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    @property
    def readonly(self) -> bool:
        return self.readonly_reason is not None

    @property
    def artifacts_dir(self) -> Path:
        """The folder beside the project file that holds checkpoints and exports."""
        return self.path.with_name(self.path.name + ".artifacts")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Project":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction (``with self._write(): ...``).

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a concurrent writer waits (busy
        timeout) instead of failing half-way; sqlite-utils calls inside nest as savepoints."""
        if self.readonly_reason is not None:
            raise ReadOnlyProjectError(f"{self.path.name} is read-only: {self.readonly_reason}")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            if self.conn.in_transaction:
                self.conn.rollback()
            raise
        else:
            self.conn.commit()

    def _rel(self, path: str | os.PathLike[str] | None) -> str | None:
        if path is None:
            return None
        p = Path(path).absolute()
        try:
            return str(p.relative_to(self.path.parent))
        except ValueError:
            return str(p)

    def _abs(self, path: str | None) -> Path | None:
        if path is None:
            return None
        p = Path(path)
        return p if p.is_absolute() else self.path.parent / p

    # ---- settings --------------------------------------------------------------------------------

    def settings(self) -> ProjectSettings:
        """The project's current settings."""
        row = self.conn.execute("SELECT name, model, method_config, data_config, training FROM settings WHERE id = 1").fetchone()
        if row is None:
            raise ProjectFileError(f"{self.path.name} has no settings (it was not created completely).")
        name, model, method_config, data, training = row
        return ProjectSettings(
            model=model, method_config=_loads(method_config) or {}, data=_loads(data) or {},
            training=_loads(training) or {}, name=name or "",
        )

    def save_settings(self, settings: ProjectSettings) -> None:
        """Replace the project's settings (runs keep their own snapshots)."""
        now = _now()
        with self._write():
            created = self.conn.execute("SELECT created FROM settings WHERE id = 1").fetchone()
            self.db["settings"].upsert(
                {
                    "id": 1,
                    "name": settings.name,
                    "model": settings.model,
                    "method": settings.method,
                    "method_config": _dumps(settings.method_config),
                    "targets": _dumps(settings.targets),
                    "dataset": settings.data.get("path"),
                    "dataset_format": settings.data.get("format"),
                    "data_config": _dumps(settings.data),
                    "training": _dumps(settings.training),
                    "created": created[0] if created else now,
                    "updated": now,
                },
                pk="id",
            )

    # ---- runs ------------------------------------------------------------------------------------

    def create_run(self, *, name: str | None = None, training_overrides: dict[str, Any] | None = None) -> int:
        """A new queued run with a snapshot of the current settings (training args updated with
        `training_overrides`). Returns its id. Start a worker on it (see `core.worker`)."""
        settings = self.settings()
        settings.training = {**settings.training, **(training_overrides or {})}
        with self._write():
            run_id = self.db["runs"].insert(
                {"name": name or "", "status": "queued", "config": _dumps(settings.to_dict()), "created": _now(), "step": 0}
            ).last_pk
            folder = self.artifacts_dir / f"run-{run_id}"
            self.db["runs"].update(run_id, {"checkpoint_dir": self._rel(folder), "name": name or f"run {run_id}"})
        return int(run_id)

    def add_finished_run(self, name: str, settings: ProjectSettings, adapter: str | os.PathLike[str], *,
                         message: str = "") -> int:
        """A run that no worker trained (a combination of runs, `core.combine`): recorded ``completed`` at once,
        with ``settings`` as its snapshot and one checkpoint, step 0, holding the adapter folder ``adapter``,
        which is moved to ``run-<id>/checkpoint-0/adapter``. ``message`` goes into its log. One transaction:
        if the move fails, no run is left behind. Returns its id."""
        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise ProjectFileError(f"{adapter} holds no adapter (no adapter_config.json); nothing was recorded.")
        now = _now()
        with self._write():
            run_id = int(self.db["runs"].insert(
                {"name": name, "status": "completed", "config": _dumps(settings.to_dict()), "created": now,
                 "started": now, "ended": now, "step": 0, "total_steps": 0}
            ).last_pk)
            folder = self.artifacts_dir / f"run-{run_id}"
            checkpoint = folder / "checkpoint-0"
            if checkpoint.exists():  # left by a run of this id that an older copy of the file had
                raise ProjectFileError(f"{checkpoint} already exists; move it away and try again.")
            checkpoint.mkdir(parents=True)
            try:
                adapter.rename(checkpoint / "adapter")
            except OSError:
                checkpoint.rmdir()
                raise
            self.db["runs"].update(run_id, {"checkpoint_dir": self._rel(folder)})
            self.db["checkpoints"].insert({"run_id": run_id, "step": 0, "path": self._rel(checkpoint), "time": now})
            if message:
                self.db["logs"].insert({"run_id": run_id, "time": now, "level": "info", "message": message})
        return run_id

    def update_run_config(self, run_id: int, training_overrides: dict[str, Any]) -> None:
        """Change training arguments of a run's snapshot (e.g. more steps before a resume)."""
        run = self.run(run_id)
        config = run.config
        config.training = {**config.training, **training_overrides}
        with self._write():
            self.db["runs"].update(run_id, {"config": _dumps(config.to_dict())})

    def run(self, run_id: int) -> Run:
        """One run; raises `KeyError` with a readable message when there is none with that id."""
        row = self.conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(f"{self.path.name} has no run {run_id}")
        return self._run_from_row(row)

    def runs(self) -> list[Run]:
        """All runs, oldest first, each with its effective status."""
        return [self._run_from_row(row) for row in self.conn.execute("SELECT * FROM runs ORDER BY id")]

    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[-1] if runs else None

    def _run_from_row(self, row: tuple) -> Run:
        cols = [d[0] for d in self.conn.execute("SELECT * FROM runs LIMIT 0").description]
        r = dict(zip(cols, row))
        return Run(
            id=r["id"], name=r["name"] or "", status=effective_status(r), recorded_status=r["status"],
            config=ProjectSettings.from_dict(_loads(r["config"])), pid=r["pid"], host=r["host"],
            heartbeat=r["heartbeat"], created=r["created"], started=r["started"], ended=r["ended"],
            step=r["step"] or 0, total_steps=r["total_steps"], loss=r["loss"], eval_loss=r["eval_loss"],
            error=r["error"], error_detail=r["error_detail"], error_kind=r["error_kind"],
            checkpoint_dir=self._abs(r["checkpoint_dir"]) or self.artifacts_dir / f"run-{r['id']}",
            paused_since=r.get("paused_since"),
        )

    def mark_interrupted(self) -> list[int]:
        """Write ``interrupted`` for every run recorded as running whose worker is dead; returns their ids.
        (Readers do not need this — `runs` already reports them as interrupted — but it keeps the file honest.)"""
        dead = [run.id for run in self.runs() if run.recorded_status in _LIVE and run.status == "interrupted"]
        if dead and not self.readonly:
            with self._write():
                for run_id in dead:
                    self.conn.execute(
                        "UPDATE runs SET status = 'interrupted', ended = COALESCE(ended, heartbeat), paused_since = NULL "
                        "WHERE id = ? AND status = 'running'",
                        (run_id,),
                    )
        return dead

    # ---- the worker's verbs ---------------------------------------------------------------------

    def claim_run(self, run_id: int, *, pid: int | None = None) -> Run:
        """Mark the run as running in this process (pid, host, heartbeat now). Refuses a run that a
        live worker trains or that completed. Called by the worker before it loads anything."""
        pid = pid or os.getpid()
        with self._write():  # read-check-write under the write lock: no other claimer in between
            run = self.run(run_id)
            if run.alive:
                raise ProjectFileError(f"run {run_id} is already being trained by process {run.pid} on {run.host}.")
            if run.status == "completed":
                raise ProjectFileError(f"run {run_id} has completed; start a new run (or resume with more steps).")
            now = _now()
            self.db["runs"].update(
                run_id,
                {
                    "status": "running", "pid": pid, "host": socket.gethostname(), "heartbeat": now,
                    "started": run.started or now, "ended": None,
                    "error": None, "error_detail": None, "error_kind": None, "stop_requested": None,
                    "paused_since": None, "pause_requested": None,
                },
            )
        return self.run(run_id)

    def request_stop(self, run_id: int) -> None:
        """Ask the run's worker to stop (checkpoint, then ``stopped``) through the file: works from any
        process, e.g. a GUI that re-attached to a run it did not start. The worker polls it twice a second."""
        with self._write():
            self.conn.execute("UPDATE runs SET stop_requested = ? WHERE id = ?", (_now(), run_id))

    def request_pause(self, run_id: int) -> None:
        """Ask the run's worker to pause after its current step, through the file (like `request_stop`):
        for a window that re-attached and has no pipe to the worker. The worker polls it twice a second
        and answers with `core.protocol.Paused` (``paused_since`` is set)."""
        self._request_pause(run_id, 1)

    def request_continue(self, run_id: int) -> None:
        """Ask a paused run's worker to go on, through the file (see `request_pause`)."""
        self._request_pause(run_id, 0)

    def _request_pause(self, run_id: int, value: int) -> None:
        with self._write():
            self.conn.execute("UPDATE runs SET pause_requested = ? WHERE id = ?", (value, run_id))

    def take_pause_request(self, run_id: int) -> bool | None:
        """The worker's side of `request_pause` / `request_continue`: True (pause), False (continue) or None
        (nothing pending). The request is consumed, so a later ``pause``/``continue`` on stdin is not undone."""
        query = "SELECT pause_requested FROM runs WHERE id = ?"
        row = self.conn.execute(query, (run_id,)).fetchone()
        if not row or row[0] is None:  # the common case, polled twice a second: no write lock taken
            return None
        with self._write():  # read again under the lock: the request may have changed meanwhile
            row = self.conn.execute(query, (run_id,)).fetchone()
            if not row or row[0] is None:
                return None
            self.conn.execute("UPDATE runs SET pause_requested = NULL WHERE id = ?", (run_id,))
            return bool(row[0])

    def stop_requested(self, run_id: int) -> bool:
        """True when `request_stop` was called since the run was last claimed."""
        row = self.conn.execute("SELECT stop_requested FROM runs WHERE id = ?", (run_id,)).fetchone()
        return bool(row and row[0])

    def heartbeat(self, run_id: int, *, pid: int | None = None) -> None:
        """The worker is alive (call every `HEARTBEAT_INTERVAL_S`)."""
        with self._write():
            self.conn.execute(
                "UPDATE runs SET heartbeat = ? WHERE id = ? AND pid = ?", (_now(), run_id, pid or os.getpid())
            )

    def record(self, run_id: int, events: Iterable[protocol.Event], *, pid: int | None = None) -> None:
        """Record a batch of protocol events of one run in one transaction: metrics, evals,
        checkpoints, logs, and the status changes `Started` / `Finished` / `Failed` imply
        (`Paused` sets ``paused_since``; `Continued`, `Finished` and `Failed` clear it).
        Also refreshes the heartbeat."""
        pid = pid or os.getpid()
        now = _now()
        events = list(events)
        with self._write():
            run_update: dict[str, Any] = {"heartbeat": now}
            metrics, logs, checkpoints = [], [], []
            for ev in events:
                if isinstance(ev, protocol.Started):
                    run_update["total_steps"] = ev.total_steps
                    run_update["step"] = ev.start_step
                    # A resumed run redoes the steps after its checkpoint: drop their old records.
                    self.conn.execute("DELETE FROM metrics WHERE run_id = ? AND step > ?", (run_id, ev.start_step))
                    self.conn.execute("DELETE FROM samples WHERE run_id = ? AND step > ?", (run_id, ev.start_step))
                    self.conn.execute("DELETE FROM eval_scores WHERE run_id = ? AND step > ?", (run_id, ev.start_step))
                elif isinstance(ev, protocol.Step):
                    metrics.append({
                        "run_id": run_id, "step": ev.step, "epoch": ev.epoch, "loss": ev.loss, "lr": ev.lr,
                        "grad_norm": ev.grad_norm, "tokens_per_s": ev.tokens_per_s, "elapsed_s": ev.elapsed_s,
                        "eta_s": ev.eta_s, "time": now,
                    })
                    run_update.update(step=ev.step, loss=ev.loss)
                elif isinstance(ev, protocol.Eval):
                    metrics.append({"run_id": run_id, "step": ev.step, "eval_loss": ev.eval_loss, "time": now})
                    run_update["eval_loss"] = ev.eval_loss
                elif isinstance(ev, protocol.Samples):
                    self._record_samples(run_id, ev, now)
                elif isinstance(ev, protocol.Checkpoint):
                    checkpoints.append({"run_id": run_id, "step": ev.step, "path": self._rel(ev.path), "time": now})
                elif isinstance(ev, protocol.Log):
                    logs.append({"run_id": run_id, "time": now, "level": ev.level, "message": ev.message})
                elif isinstance(ev, protocol.Paused):
                    run_update["paused_since"] = ev.time
                elif isinstance(ev, protocol.Continued):
                    run_update["paused_since"] = None
                elif isinstance(ev, protocol.Finished):
                    run_update.update(status=ev.status, ended=now, paused_since=None)
                    if ev.step:
                        run_update["step"] = ev.step
                    if ev.loss is not None:
                        run_update["loss"] = ev.loss
                    if ev.eval_loss is not None:
                        run_update["eval_loss"] = ev.eval_loss
                elif isinstance(ev, protocol.Failed):
                    run_update.update(
                        status="failed", ended=now, error=ev.reason, error_detail=ev.detail, error_kind=ev.kind,
                        paused_since=None,
                    )
                    if ev.step is not None:
                        run_update["step"] = ev.step
                    logs.append({"run_id": run_id, "time": now, "level": "error", "message": ev.reason})
            if metrics:
                self.db["metrics"].insert_all(metrics)
            if checkpoints:
                # A checkpoint rewritten for the same step (stop right after a periodic one) replaces the old row.
                for ck in checkpoints:
                    self.conn.execute("DELETE FROM checkpoints WHERE run_id = ? AND step = ?", (run_id, ck["step"]))
                self.db["checkpoints"].insert_all(checkpoints)
            if logs:
                self.db["logs"].insert_all(logs)
            self.db["runs"].update(run_id, run_update)

    def _record_samples(self, run_id: int, ev: protocol.Samples, now: float) -> None:
        """A `protocol.Samples` event: its rows in ``samples`` and their means in ``eval_scores`` (replacing
        an earlier evaluation of the same step). Inside `record`'s transaction."""
        from core.evaluate import METRICS, summarize

        self.conn.execute("DELETE FROM samples WHERE run_id = ? AND step = ?", (run_id, ev.step))
        self.conn.execute("DELETE FROM eval_scores WHERE run_id = ? AND step = ?", (run_id, ev.step))
        rows = [{"run_id": run_id, "step": ev.step, "time": now,
                 **{k: row.get(k) for k in ("prompt_index", "prompt", "reference", "output", *METRICS)}} for row in ev.samples]
        if rows:
            self.db["samples"].insert_all(rows)
            self.db["eval_scores"].insert({"run_id": run_id, "step": ev.step, "time": now, **summarize(rows)})

    def add_log(self, run_id: int, message: str, level: str = "info") -> None:
        """A line in the run's log written by someone other than its worker (the window's launch line)."""
        self.record(run_id, [protocol.Log(level, message)])

    def record_crash(self, run_id: int, reason: str) -> bool:
        """The run's worker died without a last word: mark the run interrupted (``error_kind`` "crashed")
        at once, if the file still says it runs and its process is gone. Returns whether it did."""
        run = self.run(run_id)
        if run.recorded_status == "running" and run.status == "interrupted":  # its pid is gone
            self.set_run_status(run_id, "interrupted", error=reason, error_kind="crashed")
            return True
        return False

    def set_run_status(
        self, run_id: int, status: str, *, error: str | None = None, error_detail: str | None = None,
        error_kind: str | None = None,
    ) -> None:
        """Write a status directly (e.g. ``failed`` when the worker could not even start)."""
        if status not in RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}")
        update: dict[str, Any] = {"status": status}
        if status not in ("queued", "running"):
            update["ended"] = _now()
        if error is not None:
            update.update(error=error, error_detail=error_detail, error_kind=error_kind or "error")
        with self._write():
            self.db["runs"].update(run_id, update)

    # ---- metrics, checkpoints, logs, exports ----------------------------------------------------

    def metrics(self, run_id: int, *, after_id: int = 0) -> list[dict[str, Any]]:
        """Metric rows of a run in step order (train rows have ``loss``, eval rows ``eval_loss``).
        `after_id`: only rows with a larger ``id`` (for polling readers)."""
        return list(self.db["metrics"].rows_where("run_id = ? AND id > ?", [run_id, after_id], order_by="step, id"))

    def events(self, run_id: int, *, after: int = 0) -> tuple[list[protocol.Event], int]:
        """The run's metric rows with an ``id`` above ``after`` as the events that wrote them (`record`'s
        mapping backwards: `protocol.Step` and `protocol.Eval`), in step order, and the largest id seen
        (pass it as ``after`` next time). For a window that follows a run another process trains."""
        events: list[protocol.Event] = []
        last = after
        for row in self.metrics(run_id, after_id=after):
            last = max(last, row["id"])
            if row.get("loss") is not None:
                events.append(protocol.Step(
                    step=row["step"], epoch=row.get("epoch") or 0.0, loss=row["loss"], lr=row.get("lr") or 0.0,
                    grad_norm=row.get("grad_norm"), tokens_per_s=row.get("tokens_per_s"),
                    elapsed_s=row.get("elapsed_s") or 0.0, eta_s=row.get("eta_s"),
                ))
            elif row.get("eval_loss") is not None:
                events.append(protocol.Eval(step=row["step"], eval_loss=row["eval_loss"]))
        return events, last

    def best_eval_losses(self) -> dict[int, float]:
        """Run id -> its lowest evaluation loss, for the runs that have one."""
        return dict(self.conn.execute(
            "SELECT run_id, MIN(eval_loss) FROM metrics WHERE eval_loss IS NOT NULL GROUP BY run_id").fetchall())

    # ---- evaluation: samples, scores, best checkpoint, comparisons ------------------------------

    def samples(self, run_id: int, *, step: int | None = None, prompt_index: int | None = None) -> list[dict[str, Any]]:
        """The run's evaluation answers (step 0: the base model), ordered by step then prompt; optionally
        of one ``step`` or one ``prompt_index`` only."""
        where, params = ["run_id = ?"], [run_id]
        if step is not None:
            where.append("step = ?")
            params.append(step)
        if prompt_index is not None:
            where.append("prompt_index = ?")
            params.append(prompt_index)
        return list(self.db["samples"].rows_where(" AND ".join(where), params, order_by="step, prompt_index"))

    def sample_steps(self, run_id: int) -> list[int]:
        """The steps that have evaluation answers, ascending (0 = the base model)."""
        return [r[0] for r in self.conn.execute("SELECT DISTINCT step FROM samples WHERE run_id = ? ORDER BY step", (run_id,))]

    def eval_scores(self, run_id: int) -> list[dict[str, Any]]:
        """Per evaluation step: ``step``, ``n`` and the task metrics' means (`core.evaluate.METRICS`), with
        that step's ``eval_loss`` and ``perplexity`` (exp of the eval loss) where it was evaluated."""
        losses = {r[0]: r[1] for r in self.conn.execute(
            "SELECT step, eval_loss FROM metrics WHERE run_id = ? AND eval_loss IS NOT NULL ORDER BY id", (run_id,))}
        rows = {r["step"]: r for r in self.db["eval_scores"].rows_where("run_id = ?", [run_id], order_by="step")}
        out = []
        for step in sorted(set(rows) | set(losses)):
            row = {k: v for k, v in rows.get(step, {"step": step}).items() if k not in ("id", "run_id", "time")}
            loss = losses.get(step)
            row["eval_loss"] = loss
            row["perplexity"] = math.exp(min(loss, 700.0)) if loss is not None else None
            out.append(row)
        return out

    def best_checkpoint(self, run_id: int, metric: str = "eval_loss") -> dict[str, Any] | None:
        """The run's checkpoint (still on disk) with the best ``metric`` at its step: the lowest
        ``eval_loss`` / ``perplexity``, the highest ``exact_match`` / ``contains`` / ``f1`` / ``rouge_l``.
        Returns its checkpoint row with ``value`` added, or None when no checkpoint step was evaluated.
        Ties go to the earlier step."""
        lower = metric in ("eval_loss", "perplexity")
        scores = {r["step"]: r.get(metric) for r in self.eval_scores(run_id)}
        best = None
        for ck in self.checkpoints(run_id):
            value = scores.get(ck["step"])
            if value is None or not Path(ck["path"]).is_dir():
                continue
            if best is None or (value < best["value"] if lower else value > best["value"]):
                best = {**ck, "value": value}
        return best

    def best_scores(self, metric: str) -> dict[int, float]:
        """Run id -> its best value of ``metric`` over its evaluation steps (step 0, the base, left out):
        lowest ``eval_loss``, highest task metric. For the runs list."""
        if metric == "eval_loss":
            return self.best_eval_losses()
        if metric not in ("exact_match", "contains", "f1", "rouge_l"):
            raise ValueError(f"unknown metric {metric!r}")
        return dict(self.conn.execute(
            f"SELECT run_id, MAX({metric}) FROM eval_scores WHERE step > 0 GROUP BY run_id").fetchall())

    def add_comparison(self, model_a: dict[str, Any], model_b: dict[str, Any], verdicts: list[dict[str, Any]], *,
                       label: str = "", judge: str = "person") -> int:
        """Record a blind A/B comparison: ``verdicts`` one dict per prompt with ``winner`` ``"a"``, ``"b"`` or
        ``"tie"`` (and whatever else, e.g. the prompt and both answers). Returns its id."""
        counts = {w: sum(1 for v in verdicts if v.get("winner") == w) for w in ("a", "b", "tie")}
        with self._write():
            return int(self.db["comparisons"].insert({
                "model_a": _dumps(model_a), "model_b": _dumps(model_b), "label": label, "wins_a": counts["a"],
                "wins_b": counts["b"], "ties": counts["tie"], "judge": judge, "detail": _dumps(verdicts), "time": _now(),
            }).last_pk)

    def comparisons(self) -> list[dict[str, Any]]:
        """Every recorded comparison, oldest first, with ``win_rate`` (B's wins, a tie counting half, over
        all verdicts) and ``interval`` (its 95 % Wilson interval)."""
        from core.evaluate import wilson_interval

        rows = list(self.db["comparisons"].rows_where(order_by="id"))
        for row in rows:
            row["model_a"], row["model_b"], row["detail"] = _loads(row["model_a"]), _loads(row["model_b"]), _loads(row["detail"])
            n = row["wins_a"] + row["wins_b"] + row["ties"]
            wins = row["wins_b"] + 0.5 * row["ties"]
            row["n"] = n
            row["win_rate"] = wins / n if n else None
            row["interval"] = wilson_interval(wins, n)
        return rows

    def checkpoints(self, run_id: int) -> list[dict[str, Any]]:
        """The run's checkpoints, oldest step first, with absolute ``path``."""
        rows = list(self.db["checkpoints"].rows_where("run_id = ?", [run_id], order_by="step"))
        for row in rows:
            row["path"] = self._abs(row["path"])
        return rows

    def last_checkpoint(self, run_id: int) -> Path | None:
        """The newest checkpoint folder of the run that still exists on disk, or None."""
        for row in reversed(self.checkpoints(run_id)):
            if Path(row["path"]).is_dir():
                return Path(row["path"])
        return None

    def logs(self, run_id: int) -> list[dict[str, Any]]:
        return list(self.db["logs"].rows_where("run_id = ?", [run_id], order_by="id"))

    def add_export(
        self, run_id: int | None, kind: str, path: str | os.PathLike[str], *, checkpoint: str | os.PathLike[str] | None = None,
        verified: bool = True, detail: dict[str, Any] | None = None,
    ) -> int:
        """Record an export (``kind`` ``"merged"`` or ``"adapter"``); returns its id."""
        with self._write():
            return int(self.db["exports"].insert({
                "run_id": run_id, "kind": kind, "path": self._rel(path), "checkpoint": self._rel(checkpoint),
                "verified": int(verified), "detail": _dumps(detail or {}), "time": _now(),
            }).last_pk)

    def exports(self) -> list[dict[str, Any]]:
        rows = list(self.db["exports"].rows_where(order_by="id"))
        for row in rows:
            row["path"] = self._abs(row["path"])
            row["checkpoint"] = self._abs(row["checkpoint"])
            row["detail"] = _loads(row["detail"])
            row["verified"] = bool(row["verified"])
        return rows


def effective_status(row: dict[str, Any], *, now: float | None = None) -> str:
    """The status a person should see: ``running`` only while the worker is alive.

    Dead means: on this host, the recorded pid no longer exists (or is a zombie); anywhere, the last
    heartbeat is older than `STALE_AFTER_S`.
    """
    status = row["status"]
    if status not in _LIVE:
        return status
    now = _now() if now is None else now
    heartbeat = row.get("heartbeat") or 0.0
    if now - heartbeat > STALE_AFTER_S:
        return "interrupted"
    if row.get("host") == socket.gethostname() and not pid_alive(row.get("pid")):
        return "interrupted"
    return status


def _connect(path: Path, *, readonly: bool, create: bool = False) -> sqlite3.Connection:
    """A connection with the settings two processes need: WAL, busy timeout, autocommit-by-block."""
    if readonly:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        uri = f"{path.as_uri()}?mode={'rwc' if create else 'rw'}"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ProjectFileError(f"{path} cannot be opened for writing ({exc}).") from None
    return conn

