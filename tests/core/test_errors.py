"""core.errors: one module of person-facing errors, one mapping from an exception to what a person reads."""

from __future__ import annotations

import pytest

from core import errors


@pytest.mark.parametrize("module, name", [
    ("core.config", "ConfigError"), ("core.targeting", "TargetError"), ("core.data", "DataError"),
    ("core.models", "ModelLoadError"), ("core.store", "ProjectFileError"), ("core.store", "ReadOnlyProjectError"),
    ("core.export", "ExportError"), ("core.train", "TrainingConfigError"), ("core.peft_model", "AdapterLoadError"),
])
def test_each_module_raises_the_class_from_core_errors(module, name):
    import importlib

    assert getattr(importlib.import_module(module), name) is getattr(errors, name)
    assert issubclass(getattr(errors, name), errors.PersonError)


def test_explain_gives_the_kind_the_message_and_the_traceback():
    try:
        raise errors.DataError("facts.jsonl, line 3: no 'completion' key.")
    except errors.DataError as exc:
        problem = errors.explain(exc)
    assert (problem.kind, problem.message, problem.expected) == ("data", "facts.jsonl, line 3: no 'completion' key.", True)
    assert "Traceback" in problem.detail and "test_errors.py" in problem.detail
    unexpected = errors.explain(KeyError("q_proj"))
    assert (unexpected.kind, unexpected.message, unexpected.expected) == ("error", "KeyError: 'q_proj'", False)
    # Out of memory is recognised by torch's class name or the allocator's words, without importing torch.
    assert errors.explain(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")).kind == "oom"
    assert errors.explain(type("OutOfMemoryError", (RuntimeError,), {})("boom")).kind == "oom"


def test_the_worker_and_the_loop_record_the_kind_explain_gives(tmp_path):
    from core import worker
    from core.train import TrainingArguments, _failure

    job = worker.Job(project_path=tmp_path / "p.adapterstudio", run_id=1, settings=None, checkpoint_dir=tmp_path,
                     resume_from=None)
    for exc, kind in [(errors.TargetError("no module named q_proj"), "config"), (errors.ModelLoadError("no model x"), "model"),
                      (errors.DataError("empty"), "data"), (ValueError("odd"), "error")]:
        assert worker._setup_failure(exc, job).kind == kind
        assert _failure(exc, 3, None, TrainingArguments()).kind == kind
    assert worker._setup_failure(errors.DataError("empty"), job).reason == "The dataset cannot be used: empty"
