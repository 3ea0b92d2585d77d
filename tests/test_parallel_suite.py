"""The suite's own parallel set-up (tests/conftest.py, README "Development"): under pytest-xdist each worker
uses one torch thread, and tests marked ``one_at_a_time`` with the same name never overlap, even on
different workers. Checked by an inner pytest with two workers on a throw-away test file that uses the
real conftest."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PAIR = '''
import json, os, time
import pytest

def record(name):
    start = time.monotonic()
    time.sleep(1.5)
    with open(os.environ["RECORD"], "a") as out:
        out.write(json.dumps({"name": name, "worker": os.environ["PYTEST_XDIST_WORKER"], "start": start,
                              "end": time.monotonic(), "omp": os.environ.get("OMP_NUM_THREADS")}) + "\\n")

@pytest.mark.one_at_a_time("x")
def test_locked_a(): record("locked_a")

@pytest.mark.one_at_a_time("x")
def test_locked_b(): record("locked_b")

def test_free_a(): record("free_a")

def test_free_b(): record("free_b")
'''


def test_one_at_a_time_keeps_tests_apart_across_workers_and_each_worker_has_one_thread(tmp_path):
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    one_at_a_time(name): x\n    slow: x\n    gpu: x\n")
    (tmp_path / "test_pair.py").write_text(PAIR)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "OMP_NUM_THREADS"))}
    env.update(RECORD=str(tmp_path / "record.jsonl"), TMPDIR=str(scratch))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider",
                           "-q", "test_pair.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {r["name"]: r for r in map(json.loads, (tmp_path / "record.jsonl").read_text().splitlines())}
    assert set(runs) == {"locked_a", "locked_b", "free_a", "free_b"}
    assert {r["omp"] for r in runs.values()} == {"1"}
    a, b = runs["locked_a"], runs["locked_b"]
    assert a["worker"] != b["worker"]  # else the lock had nothing to keep apart
    assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    # Meanwhile the workers did run side by side: some test on one overlapped a test on the other.
    assert any(r["worker"] != q["worker"] and max(r["start"], q["start"]) < min(r["end"], q["end"])
               for r in runs.values() for q in runs.values())
    # The shared folder of lock files is gone with the run.
    assert not [p for p in scratch.iterdir() if p.name.startswith("adapter-studio-tests-")]
