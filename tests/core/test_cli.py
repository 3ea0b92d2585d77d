"""core.cli: `adapter-studio inspect`, and errors as one paragraph with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.models import skeleton

ROOT = Path(__file__).resolve().parents[2]


def test_inspect_prints_the_tree_with_counts(capsys):
    assert main(["inspect", "tiny-llama"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("LlamaForCausalLM(  # 107.3K\n")
    assert "(q_proj): Linear(in_features=64, out_features=64, bias=False)  # 4.1K" in out


def test_inspect_without_counts_is_print_model(capsys):
    assert main(["inspect", "tiny-gpt2", "--no-counts"]) == 0
    assert capsys.readouterr().out == repr(skeleton("tiny-gpt2")) + "\n"


def test_inspect_json(capsys):
    assert main(["inspect", "bloomz-560m", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cls"] == "BloomForCausalLM" and data["total_params"] == 559_214_592


def test_errors_are_one_paragraph_and_exit_2(capsys, tmp_path):
    assert main(["inspect", "tiny-lama"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith("adapter-studio: Unknown model reference 'tiny-lama'.")
    assert "\n\n" not in err and "Traceback" not in err
    assert main(["inspect", str(tmp_path / "missing.gguf")]) == 2
    assert "missing.gguf" in capsys.readouterr().err


def test_usage_errors_and_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert "--no-counts" in help_text and "bloomz-560m" in help_text


def test_python_dash_m_runs_inspect():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "inspect", "bloomz-560m"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("BloomForCausalLM(  # 559.2M\n")
    assert "(0-23): 24 x BloomBlock(" in proc.stdout
