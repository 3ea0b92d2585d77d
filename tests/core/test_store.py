"""core.store: the project file — schema, versions, damaged files, runs and liveness, two processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core import protocol as p
from core import store
from core.store import Project, ProjectFileError, ProjectSettings, ReadOnlyProjectError

REPO = Path(__file__).resolve().parents[2]


def settings(**kw) -> ProjectSettings:
    base = dict(
        model="tiny-llama",
        method_config={"peft_type": "LORA", "r": 4, "target_modules": ["q_proj", "v_proj"]},
        data={"path": "data.jsonl", "format": "auto"},
        training={"max_steps": 5, "learning_rate": 1e-3},
    )
    base.update(kw)
    return ProjectSettings(**base)


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p.adapterstudio", settings()) as proj:
        yield proj


def test_create_and_reopen(tmp_path):
    path = tmp_path / "demo.adapterstudio"
    Project.create(path, settings()).close()
    assert (tmp_path / "demo.adapterstudio.artifacts").is_dir()
    with Project.open(path) as proj:
        s = proj.settings()
        assert s.name == "demo" and s.model == "tiny-llama" and s.method == "LORA"
        assert s.targets == ["q_proj", "v_proj"] and s.training["max_steps"] == 5
        assert proj.schema_version == store.SCHEMA_VERSION and not proj.readonly
        assert proj.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        row = proj.conn.execute("SELECT method, targets, dataset, dataset_format FROM settings").fetchone()
        assert row == ("LORA", '["q_proj", "v_proj"]', "data.jsonl", "auto")


def test_create_never_overwrites(tmp_path):
    path = tmp_path / "x.adapterstudio"
    path.write_bytes(b"precious")
    with pytest.raises(ProjectFileError, match="already exists"):
        Project.create(path, settings())
    assert path.read_bytes() == b"precious"


def _foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("kind", ["garbage", "empty", "foreign", "truncated"])
def test_bad_files_are_errors_and_untouched(tmp_path, kind):
    path = tmp_path / "bad.adapterstudio"
    if kind == "garbage":
        path.write_bytes(os.urandom(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "foreign":
        _foreign_db(path)
    else:
        Project.create(path, settings()).close()
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] + b"\x00" * 7)
    before = path.read_bytes()
    with pytest.raises(ProjectFileError) as info:
        Project.open(path)
    assert str(path.name) in str(info.value)
    assert path.read_bytes() == before
    assert not Path(str(path) + "-wal").exists() or kind == "truncated"


def test_missing_file(tmp_path):
    with pytest.raises(ProjectFileError, match="no such project file"):
        Project.open(tmp_path / "nope.adapterstudio")


def test_newer_file_opens_read_only(tmp_path):
    path = tmp_path / "new.adapterstudio"
    Project.create(path, settings()).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with Project.open(path) as proj:
        assert proj.readonly and "newer Adapter Studio" in proj.readonly_reason
        assert proj.settings().model == "tiny-llama"  # still readable
        with pytest.raises(ReadOnlyProjectError, match="read-only"):
            proj.create_run()
    with Project.open(path) as proj:
        assert proj.schema_version == store.SCHEMA_VERSION + 1


def test_forward_migration_keeps_a_backup(tmp_path, monkeypatch):
    path = tmp_path / "old.adapterstudio"
    with Project.create(path, settings()) as proj:
        proj.create_run()
    current = store.SCHEMA_VERSION

    def add_notes(db):
        db["runs"].add_column("notes", str)

    monkeypatch.setattr(store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS + [add_notes])
    with Project.open(path) as proj:
        assert proj.schema_version == current + 1
        assert "notes" in proj.db["runs"].columns_dict
        assert len(proj.runs()) == 1
    backup = tmp_path / f"old.adapterstudio.v{current}.bak"
    assert backup.is_file()
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == current


def test_failed_migration_leaves_old_version(tmp_path, monkeypatch):
    path = tmp_path / "old.adapterstudio"
    Project.create(path, settings()).close()
    current = store.SCHEMA_VERSION

    def broken(db):
        db["runs"].add_column("half", str)
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(store, "MIGRATIONS", store.MIGRATIONS + [broken])
    with pytest.raises(RuntimeError):
        Project.open(path)
    monkeypatch.undo()
    with Project.open(path) as proj:
        assert proj.schema_version == current and "half" not in proj.db["runs"].columns_dict


def test_a_version_1_file_migrates_to_paused_since(tmp_path, monkeypatch):
    """A project file written before pause/continue (schema 1) opens, is migrated forward with a backup,
    and keeps its runs; a schema-1 reader (an older Adapter Studio) opens the new file read-only."""
    path = tmp_path / "v1.adapterstudio"
    monkeypatch.setattr(store, "SCHEMA_VERSION", 1)
    with Project.create(path, settings()) as proj:
        run_id = proj.create_run()
        with proj._write():  # what a schema-1 worker left: a stopped run at step 1
            proj.conn.execute("UPDATE runs SET status = 'stopped', step = 1 WHERE id = ?", (run_id,))
        assert "paused_since" not in proj.db["runs"].columns_dict
        assert proj.run(run_id).paused_since is None and not proj.run(run_id).paused
    monkeypatch.undo()
    with Project.open(path) as proj:
        assert proj.schema_version == store.SCHEMA_VERSION >= 2
        assert proj.db["runs"].columns_dict["paused_since"] is float
        run = proj.run(run_id)
        assert run.step == 1 and run.paused_since is None and not run.paused
    assert sqlite3.connect(tmp_path / "v1.adapterstudio.v1.bak").execute("PRAGMA user_version").fetchone()[0] == 1
    monkeypatch.setattr(store, "SCHEMA_VERSION", 1)  # an older Adapter Studio: reads, never writes
    with Project.open(path) as proj:
        assert proj.readonly and proj.run(run_id).step == 1


def test_run_lifecycle(project):
    run_id = project.create_run(training_overrides={"max_steps": 3})
    run = project.run(run_id)
    assert run.status == "queued" and run.config.training["max_steps"] == 3 and run.resumable
    assert run.checkpoint_dir == project.artifacts_dir / f"run-{run_id}"
    run = project.claim_run(run_id)
    assert run.status == "running" and run.pid == os.getpid() and run.alive
    with pytest.raises(ProjectFileError, match="already being trained"):
        project.claim_run(run_id)
    ck = run.checkpoint_dir / "checkpoint-2"
    ck.mkdir(parents=True)
    project.record(run_id, [
        p.Started(run_id, total_steps=3),
        p.Log("info", "hello"),
        p.Step(1, 0.1, 2.0, 1e-3, 0.5, 100.0, 0.1, 0.2),
        p.Step(2, 0.2, 1.5, 1e-3, 0.4, 100.0, 0.2, 0.1),
        p.Eval(2, 1.7),
        p.Checkpoint(2, str(ck)),
    ])
    run = project.run(run_id)
    assert (run.step, run.total_steps, run.loss, run.eval_loss) == (2, 3, 1.5, 1.7)
    rows = project.metrics(run_id)
    assert [r["loss"] for r in rows] == [2.0, 1.5, None] and rows[2]["eval_loss"] == 1.7
    assert project.metrics(run_id, after_id=rows[1]["id"]) == rows[2:]
    assert project.last_checkpoint(run_id) == ck
    # stored relative to the project folder, so the folder can move
    assert project.conn.execute("SELECT path FROM checkpoints").fetchone()[0] == f"p.adapterstudio.artifacts/run-{run_id}/checkpoint-2"
    project.record(run_id, [p.Step(3, 0.3, 1.0, 1e-3), p.Finished("completed", step=3, loss=1.0)])
    run = project.run(run_id)
    assert run.status == "completed" and run.ended and not run.resumable
    assert [log["message"] for log in project.logs(run_id)] == ["hello"]
    with pytest.raises(ProjectFileError, match="completed"):
        project.claim_run(run_id)


def test_failed_and_resume_drops_redone_steps(project):
    run_id = project.create_run()
    project.claim_run(run_id)
    project.record(run_id, [p.Started(run_id, 10)] + [p.Step(i, 0, float(i), 0.1) for i in range(1, 6)])
    project.record(run_id, [p.Failed("Loss became NaN at step 6.", step=6, detail="tb", kind="nan")])
    run = project.run(run_id)
    assert (run.status, run.error, run.error_kind, run.error_detail) == ("failed", "Loss became NaN at step 6.", "nan", "tb")
    assert run.resumable
    project.claim_run(run_id)
    assert project.run(run_id).error is None
    project.record(run_id, [p.Started(run_id, 10, start_step=3), p.Step(4, 0, 40.0, 0.1)])
    assert [r["loss"] for r in project.metrics(run_id)] == [1.0, 2.0, 3.0, 40.0]


def test_dead_worker_shows_as_interrupted(project):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = project.create_run()
    project.claim_run(run_id, pid=dead.pid)
    run = project.run(run_id)
    assert run.status == "interrupted" and run.recorded_status == "running" and not run.alive
    assert project.mark_interrupted() == [run_id]
    assert project.run(run_id).recorded_status == "interrupted"
    project.claim_run(run_id)  # an interrupted run can be resumed


def test_zombie_and_stale_heartbeat(project):
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(0.5)  # exited, but not reaped: a zombie still answers kill(pid, 0)
    assert not store.pid_alive(zombie.pid)
    zombie.wait()
    run_id = project.create_run()
    project.claim_run(run_id)  # our own pid: alive
    assert project.run(run_id).status == "running"
    project.conn.execute("UPDATE runs SET heartbeat = ?", (time.time() - store.STALE_AFTER_S - 1,))
    project.conn.commit()
    assert project.run(run_id).status == "interrupted"
    project.heartbeat(run_id)
    assert project.run(run_id).status == "running"


def test_readonly_reader_sees_writer(tmp_path):
    path = tmp_path / "p.adapterstudio"
    with Project.create(path, settings()) as writer, Project.open(path, readonly=True) as reader:
        run_id = writer.create_run()
        assert reader.run(run_id).status == "queued"
        with pytest.raises(ReadOnlyProjectError):
            reader.save_settings(settings())


WRITER = textwrap.dedent(
    """
    import sys
    from core import protocol as p
    from core.store import Project
    proj = Project.open(sys.argv[1])
    run_id = int(sys.argv[2])
    proj.claim_run(run_id)
    for i in range(1, 151):
        proj.record(run_id, [p.Step(i, 0.0, 1.0 / i, 1e-3)])
        if i % 10 == 0:
            proj.heartbeat(run_id)
    proj.record(run_id, [p.Finished("completed", step=150)])
    """
)


def test_two_writer_processes_and_a_reader(tmp_path):
    path = tmp_path / "p.adapterstudio"
    with Project.create(path, settings()) as proj:
        ids = [proj.create_run(), proj.create_run()]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(i)], env=env, stderr=subprocess.PIPE) for i in ids]
        reads = 0
        while any(proc.poll() is None for proc in procs):
            proj.runs()
            proj.metrics(ids[0])
            proj.save_settings(settings(name=f"n{reads}"))  # the GUI writing at the same time
            reads += 1
        errors = [proc.stderr.read().decode() for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], errors
        for run_id in ids:
            assert len(proj.metrics(run_id)) == 150 and proj.run(run_id).status == "completed"
        assert reads > 0


def test_stop_request_through_the_file(project):
    run_id = project.create_run()
    project.claim_run(run_id)
    assert not project.stop_requested(run_id)
    project.request_stop(run_id)
    assert project.stop_requested(run_id)
    project.record(run_id, [p.Finished("stopped", step=1)])
    project.claim_run(run_id)  # a new claim (resume) starts without the old request
    assert not project.stop_requested(run_id)


def test_paused_since_is_set_while_paused_and_cleared(project):
    run_id = project.create_run()
    project.claim_run(run_id)
    project.record(run_id, [p.Started(run_id, 10), p.Step(1, 0.1, 2.0, 1e-3), p.Paused(step=1, time=1234.5)])
    run = project.run(run_id)
    assert run.paused_since == 1234.5 and run.paused and run.status == "running"
    project.record(run_id, [p.Continued(step=1, paused_seconds=3.0), p.Step(2, 0.2, 1.5, 1e-3)])
    assert project.run(run_id).paused_since is None and not project.run(run_id).paused
    project.record(run_id, [p.Paused(step=2, time=2000.0)])
    assert project.run(run_id).paused
    project.record(run_id, [p.Finished("stopped", step=2)])  # stop while paused
    run = project.run(run_id)
    assert run.status == "stopped" and run.paused_since is None and not run.paused
    project.claim_run(run_id)
    project.record(run_id, [p.Paused(step=2, time=3000.0)])
    project.record(run_id, [p.Failed("boom", step=3)])
    assert project.run(run_id).paused_since is None
    # a worker that died while paused: interrupted, not paused
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    project.claim_run(run_id, pid=dead.pid)
    project.record(run_id, [p.Paused(step=2, time=4000.0)], pid=dead.pid)
    run = project.run(run_id)
    assert run.status == "interrupted" and not run.paused
    project.mark_interrupted()
    assert project.run(run_id).paused_since is None


def test_pause_requests_through_the_file_are_taken_once(project, tmp_path):
    run_id = project.create_run()
    project.claim_run(run_id)
    assert project.take_pause_request(run_id) is None
    with Project.open(project.path) as window:  # another connection: a re-attached window
        window.request_pause(run_id)
    assert project.take_pause_request(run_id) is True
    assert project.take_pause_request(run_id) is None  # consumed: a later stdin command is not undone
    project.request_pause(run_id)
    project.request_continue(run_id)  # the newest request wins
    assert project.take_pause_request(run_id) is False
    project.request_pause(run_id)
    project.record(run_id, [p.Finished("stopped", step=0)])
    project.claim_run(run_id)  # a new claim (resume) starts without old requests
    assert project.take_pause_request(run_id) is None


def test_events_read_back_what_record_wrote(project):
    """The store maps events to rows (record) and rows back to events (events), for a window that follows
    a run another process trains; `after` returns only what is new."""
    run_id = project.create_run()
    project.claim_run(run_id)
    written = [p.Step(1, 0.25, 2.5, 0.001, grad_norm=0.5, tokens_per_s=900.0, elapsed_s=1.5, eta_s=4.5),
               p.Step(2, 0.5, 2.25, 0.002, elapsed_s=3.0), p.Eval(2, 2.4)]
    project.record(run_id, [p.Started(run_id, 4), *written, p.Log("info", "not a metric")])
    events, last = project.events(run_id)
    assert events == written
    assert project.events(run_id, after=last) == ([], last)
    project.record(run_id, [p.Step(3, 0.75, 2.0, 0.003, elapsed_s=4.5)])
    assert project.events(run_id, after=last)[0] == [p.Step(3, 0.75, 2.0, 0.003, elapsed_s=4.5)]
    assert project.best_eval_losses() == {run_id: 2.4}


def test_the_window_writes_through_named_methods(project):
    """add_log: the window's launch line; record_crash: only a run whose worker is gone becomes interrupted."""
    run_id = project.create_run()
    project.claim_run(run_id)  # this process: alive
    project.add_log(run_id, "accelerate launch: 2 processes")
    assert [(log["level"], log["message"]) for log in project.logs(run_id)] == [("info", "accelerate launch: 2 processes")]
    assert project.record_crash(run_id, "The worker was killed (SIGKILL).") is False
    assert project.run(run_id).recorded_status == "running"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    other = project.create_run()
    project.claim_run(other, pid=dead.pid)
    assert project.record_crash(other, "The worker was killed (SIGKILL).") is True
    run = project.run(other)
    assert (run.recorded_status, run.error, run.error_kind) == ("interrupted", "The worker was killed (SIGKILL).", "crashed")
