"""What a person does with a project, for both front ends: the command line (`core.cli`, which adds
arguments and printing) and the window (`studio`, which adds widgets).

- start a run: `prepare_run` (a new run, or one made ready to continue), then the worker process
  `worker_command` with `worker_env`;
- find a run (`find_run`) and the adapter inside a checkpoint (`adapter_folder`);
- export a run's checkpoint (`export_run`).

Torch-free at import (the window imports it on its GUI thread); `export_run` loads torch when called.
Errors a person can fix are `core.errors.RequestError` (the CLI's ``CliError``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from core.errors import RequestError

def worker_env() -> dict[str, str]:
    """The environment a worker child process needs: unbuffered, and `-m core.worker` importable without an install."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def worker_command(project_path: str | os.PathLike[str], run_id: int, python: str | None = None) -> list[str]:
    """The argv that starts a worker on a run (start it with ``start_new_session=True``).

    In a frozen app (the PyInstaller bundle, ``sys.frozen``) there is no ``python -m``: the bundle's
    executable starts the worker through its hidden entry, ``adapter-studio --worker PROJECT --run ID``
    (`studio.app.main`)."""
    if python is None and getattr(sys, "frozen", False):
        return [sys.executable, "--worker", str(project_path), "--run", str(run_id)]
    return [python or sys.executable, "-u", "-m", "core.worker", str(project_path), "--run", str(run_id)]


def prepare_run(project: Any, *, steps: int | None = None, resume: int | None = None) -> int:
    """The run a worker should train: a new one (snapshot of the settings, `steps` overriding max_steps),
    or run `resume` made ready to continue. Raises `RequestError` when it cannot. Shared by `adapter-studio train` and the window's Train button."""
    overrides = {"max_steps": steps, "num_epochs": 0.0} if steps else {}
    if project.readonly:
        raise RequestError(project.readonly_reason or "the project is read-only")
    if resume is None:
        return project.create_run(training_overrides=overrides)
    run = find_run(project, resume)
    if run.alive:
        raise RequestError(f"run {run.id} is already training (process {run.pid}); stop it first or watch it with `runs`.")
    if not run.resumable and not overrides:
        raise RequestError(f"run {run.id} has {run.status}; give --steps N (more than {run.step}) to continue it.")
    if overrides:
        project.update_run_config(run.id, overrides)
    if run.status == "completed":
        project.set_run_status(run.id, "stopped")  # continuing with more steps
    return run.id


def find_run(project: Any, run_id: int) -> Any:
    """Run ``run_id`` of ``project``; `RequestError` naming the runs there are when there is no such run."""
    try:
        return project.run(run_id)
    except KeyError:
        ids = ", ".join(str(r.id) for r in project.runs()) or "none yet"
        raise RequestError(f"{project.path.name} has no run {run_id} (runs: {ids}).") from None


def adapter_folder(checkpoint: Path) -> Path:
    """The adapter inside a checkpoint folder (``checkpoint-N/adapter``), or the folder itself if it is one."""
    inner = checkpoint / "adapter"
    return inner if (inner / "adapter_config.json").is_file() else checkpoint


def export_run(model_ref: str, checkpoint: Path, dest: Path, *, merged: bool) -> Any:
    """Load the base model and a checkpoint's adapter, then export with `core.export` (verified)."""
    # Imported here: these load torch and transformers, which the window keeps off its GUI thread.
    from core.export import export_adapter, export_merged
    from core.models import load_model
    from core.peft_model import PeftModel

    model, tokenizer = load_model(model_ref)
    peft = PeftModel.from_pretrained(model, adapter_folder(checkpoint))
    if merged:
        return export_merged(peft, tokenizer, dest)
    return export_adapter(peft, dest, tokenizer=tokenizer)
