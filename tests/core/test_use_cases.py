"""core.runs: the use-cases both front ends share, torch-free at import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core import runs
from core.errors import RequestError

ROOT = Path(__file__).resolve().parents[2]


def test_importing_runs_loads_neither_torch_nor_the_cli():
    code = "import sys, json, core.runs; print(json.dumps([m in sys.modules for m in ('torch', 'core.cli', 'PySide6')]))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [False, False, False]


def test_prepare_run_and_find_run(tmp_path):
    from core.store import Project, ProjectSettings

    settings = ProjectSettings(model="tiny-llama", method_config={"peft_type": "LORA", "task_type": "CAUSAL_LM"},
                               data={}, training={"max_steps": 3})
    with Project.create(tmp_path / "p.adapterstudio", settings) as project:
        run_id = runs.prepare_run(project, steps=5)
        assert runs.find_run(project, run_id).config.training["max_steps"] == 5
        with pytest.raises(RequestError, match=rf"p\.adapterstudio has no run 9 \(runs: {run_id}\)"):
            runs.find_run(project, 9)
        project.set_run_status(run_id, "completed")
        with pytest.raises(RequestError, match=rf"run {run_id} has completed; give --steps N \(more than 0\)"):
            runs.prepare_run(project, resume=run_id)
        assert runs.prepare_run(project, resume=run_id, steps=8) == run_id  # more steps: continued
        assert runs.find_run(project, run_id).status == "stopped"


def test_adapter_folder_and_the_worker_command(tmp_path):
    (tmp_path / "checkpoint-3" / "adapter").mkdir(parents=True)
    assert runs.adapter_folder(tmp_path / "checkpoint-3") == tmp_path / "checkpoint-3"  # no config inside: the folder itself
    (tmp_path / "checkpoint-3" / "adapter" / "adapter_config.json").write_text("{}")
    assert runs.adapter_folder(tmp_path / "checkpoint-3") == tmp_path / "checkpoint-3" / "adapter"
    assert runs.worker_command(tmp_path / "p", 2)[1:] == ["-u", "-m", "core.worker", str(tmp_path / "p"), "--run", "2"]
    env = runs.worker_env()
    assert env["PYTHONUNBUFFERED"] == "1" and env["PYTHONPATH"].split(":")[0] == str(ROOT)
