"""The project commands of the CLI: new, train, runs, export, demo (inspect has tests/core/test_cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import protocol as p
from core.cli import main
from core.store import Project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f" {i + 1}"}) + "\n" for i in range(24)))
    return path


def new(tmp_path, data_file, *extra, name="p") -> list[str]:
    return ["new", str(tmp_path / name), "--model", "tiny-llama", "--targets", "q_proj,v_proj",
            "--dataset", str(data_file), "--set", "max_length=64", *extra]


def test_new_uses_defaults_and_sets(tmp_path, data_file, capsys):
    assert main(new(tmp_path, data_file, "--set", "r=4", "--set", "max_steps=7", "--set", "train.seed=3",
                    "--set", "lora_dropout=0.1")) == 0
    out = capsys.readouterr().out
    assert "trainable parameters" in out and "p.adapterstudio" in out
    with Project.open(tmp_path / "p.adapterstudio") as proj:
        s = proj.settings()
    assert s.model == "tiny-llama" and s.method == "LORA" and s.targets == ["q_proj", "v_proj"]
    assert s.method_config["r"] == 4 and s.method_config["lora_alpha"] == 32  # LoRA defaults kept
    assert s.method_config["lora_dropout"] == 0.1 and s.method_config["task_type"] == "CAUSAL_LM"
    assert s.training["max_steps"] == 7 and s.training["seed"] == 3 and s.training["learning_rate"] == 2e-3
    assert s.data["max_length"] == 64 and s.data["path"] == str(data_file.resolve())


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--set", "rr=3"], "--set rr: no setting of that name"),
        (["--set", "seed=3"], "ambiguous; write data.seed or train.seed"),
        (["--set", "nonsense"], "expects key=value"),
        (["--set", "learning_rate=-1"], "learning_rate must be positive"),
        (["--method", "lorax"], "unknown method 'lorax'"),
        (["--targets", "q_prj"], "Closest real names: q_proj"),
    ],
)
def test_new_errors_are_short_and_write_nothing(tmp_path, data_file, capsys, extra, words):
    assert main(new(tmp_path, data_file, *extra)) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") <= 3
    assert not (tmp_path / "p.adapterstudio").exists()


def test_new_refuses_a_prompt_method_without_its_length(tmp_path, data_file, capsys):
    # the config alone accepts num_virtual_tokens=None (as PEFT); a run is built from it, so `new` refuses it
    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--method", "prompt_tuning", "--dataset",
                 str(data_file), "--set", "num_virtual_tokens=null"]) == 2
    err = capsys.readouterr().err
    assert "num_virtual_tokens is required" in err and "Traceback" not in err
    assert not (tmp_path / "p.adapterstudio").exists()


def test_new_refuses_existing_and_missing_dataset(tmp_path, data_file, capsys):
    (tmp_path / "p.adapterstudio").write_text("mine")
    assert main(new(tmp_path, data_file)) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'p.adapterstudio'} already exists" in err.splitlines()[0]
    assert (tmp_path / "p.adapterstudio").read_text() == "mine"
    missing = tmp_path / "none.jsonl"
    assert main(["new", str(tmp_path / "q"), "--model", "tiny-llama", "--dataset", str(missing)]) == 2
    assert f"{missing} does not exist" in capsys.readouterr().err.splitlines()[0]


def test_a_long_path_in_an_error_is_one_unbroken_line(tmp_path, data_file, capsys):
    # Errors are not hard-wrapped: a path a person copies from the message must be whole, however
    # long (issue 12: a wrapped temp path split "already\nexists" and a test failed on one machine).
    deep = tmp_path / ("a-long-folder-name-" * 6) / ("another-long-one " * 6) / ("third " * 10).strip()
    deep.mkdir(parents=True)
    project = deep / "p.adapterstudio"
    project.write_text("mine")
    assert len(str(project)) > 250
    assert main(["new", str(project), "--model", "tiny-llama", "--dataset", str(data_file)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and f"{project} already exists" in lines[0]


def test_new_saves_what_the_data_teaches_and_refuses_another_kind(tmp_path, data_file, capsys):
    # The method form's "Your data teaches" (issue #21), from the command line: saved with the data settings.
    assert main(["new", str(tmp_path / "s"), "--model", "tiny-llama", "--dataset", str(data_file),
                 "--set", "teaches=style"]) == 0
    with Project.open(tmp_path / "s.adapterstudio") as proj:
        assert proj.settings().data["teaches"] == "style"
    capsys.readouterr()
    assert main(["new", str(tmp_path / "t"), "--model", "tiny-llama", "--dataset", str(data_file),
                 "--set", "teaches=poems"]) == 2
    assert "teaches must be one of facts, style, not 'poems'" in capsys.readouterr().err
    assert not (tmp_path / "t.adapterstudio").exists()


def test_runs_shows_dead_worker_as_interrupted(tmp_path, data_file, capsys):
    assert main(new(tmp_path, data_file)) == 0
    path = tmp_path / "p.adapterstudio"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Project.open(path) as proj:
        run_id = proj.create_run()
        proj.claim_run(run_id, pid=dead.pid)
        proj.record(run_id, [p.Started(run_id, 10), p.Step(1, 0.1, 2.5, 1e-3)], pid=dead.pid)
    capsys.readouterr()
    assert main(["runs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "running" not in out and f"--resume {run_id}" in out and "1/10" in out
    assert main(["runs", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["status"] == "interrupted" and rows[0]["loss"] == 2.5


def test_bad_project_files(tmp_path, capsys):
    bad = tmp_path / "bad.adapterstudio"
    bad.write_bytes(b"\x00" * 100)
    assert main(["runs", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "not an Adapter Studio project file" in err and "Traceback" not in err
    assert main(["runs", str(tmp_path / "missing.adapterstudio")]) == 2
    assert main(["--debug", "runs", str(bad)]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert main(["runs", str(bad), "--debug"]) == 2  # --debug after the command too
    assert "Traceback" in capsys.readouterr().err
    assert bad.read_bytes() == b"\x00" * 100


def test_train_failure_is_reported_and_recorded(tmp_path, data_file, capsys):
    assert main(new(tmp_path, data_file)) == 0
    path = tmp_path / "p.adapterstudio"
    data_file.write_text('{"prompt": "a", "completion": "b"}\n{broken\n')  # the data went bad after `new`
    assert main(["train", str(path)]) == 1
    err = capsys.readouterr().err
    assert "run 1 failed" in err and "line 2" in err and "Traceback" not in err
    assert main(["runs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "failed" in out and "line 2" in out
    assert main(["runs", str(path), "--run", "1"]) == 0
    assert "Traceback" in capsys.readouterr().out  # the details are kept with the run


@pytest.mark.slow
def test_train_then_resume_with_more_steps(tmp_path, data_file, capsys):
    assert main(new(tmp_path, data_file, "--set", "r=4", "--set", "save_steps=0", "--set", "eval_steps=0")) == 0
    path = tmp_path / "p.adapterstudio"
    assert main(["train", str(path), "--steps", "3"]) == 0
    captured = capsys.readouterr()
    assert "run 1 completed at step 3" in captured.out and "3/3" in captured.err and "ETA" in captured.err
    assert main(["train", str(path), "--resume", "1"]) == 2  # completed: needs --steps
    assert "--steps" in capsys.readouterr().err
    assert main(["train", str(path), "--resume", "1", "--steps", "5"]) == 0
    assert "run 1 completed at step 5" in capsys.readouterr().out
    with Project.open(path) as proj:
        assert [m["step"] for m in proj.metrics(1) if m["loss"] is not None] == [1, 2, 3, 4, 5]
        assert len(proj.runs()) == 1


@pytest.mark.slow
def test_ctrl_c_stops_with_a_checkpoint(tmp_path, data_file):
    assert main(new(tmp_path, data_file, "--set", "save_steps=0", "--set", "max_steps=1000")) == 0
    path = tmp_path / "p.adapterstudio"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "core.cli", "train", str(path)], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    with Project.open(path) as proj:
        while time.time() < deadline and not (proj.runs() and proj.runs()[0].step >= 1):
            time.sleep(0.2)
        proc.send_signal(__import__("signal").SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        run = proj.run(1)
        assert run.status == "stopped" and proj.last_checkpoint(1) is not None
    assert "stopped at step" in out


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "assets" / "datasets").is_dir(), reason="the demo dataset is not there yet")
def test_demo_trains_the_default_project(tmp_path, capsys):
    """`demo` creates the default project (the embedded SmolLM2, LoRA, the shipped dataset) and trains it in a real
    worker process. One step is the cheapest run that proves it: nearly all of its time is the default evaluation
    (greedy answers to 8 prompts) of the base model and of the last step, which a run of any length does."""
    assert main(["demo", "--dir", str(tmp_path), "--steps", "1"]) == 0
    assert "completed at step 1" in capsys.readouterr().out
    with Project.open(tmp_path / "adapter-studio-demo.adapterstudio") as proj:
        run = proj.runs()[0]
        assert proj.settings().model == "smollm2-135m-instruct" and run.status == "completed"
        # The base model's answers (step 0) and the trained step's, scored on the split-off validation prompts.
        assert [(s["step"], s["n"]) for s in proj.eval_scores(run.id)] == [(0, 8), (1, 8)]


def test_export_adapter_and_merged(tmp_path, data_file, capsys):
    import io

    from core import worker

    assert main(new(tmp_path, data_file, "--set", "r=4", "--set", "max_steps=2", "--set", "eval_steps=0")) == 0
    path = tmp_path / "p.adapterstudio"
    assert main(["export", str(path), "--adapter", str(tmp_path / "a")]) == 2
    assert "no run with a checkpoint yet" in capsys.readouterr().err
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK  # the real loop, in-process
    assert main(["export", str(path), "--adapter", str(tmp_path / "a")]) == 0
    assert main(["export", str(path), "--run", str(run_id), "--merged", str(tmp_path / "m")]) == 0
    assert "largest logit difference" in capsys.readouterr().out
    assert (tmp_path / "a" / "adapter_config.json").is_file() and (tmp_path / "m" / "config.json").is_file()
    assert main(["export", str(path), "--merged", str(tmp_path / "m")]) == 2  # never overwrites
    assert "not empty" in capsys.readouterr().err
    with Project.open(path) as proj:
        exports = proj.exports()
    assert [(e["kind"], e["path"].name, e["verified"]) for e in exports] == [("adapter", "a", True), ("merged", "m", True)]
    assert exports[0]["checkpoint"].name == "checkpoint-2"
