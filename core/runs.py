"""What a person does with a project, for both front ends: the command line (`core.cli`, which adds
arguments and printing) and the window (`studio`, which adds widgets).

- create a project: `create_project` (the method's defaults, ``key=value`` overrides, all validated);
- start a run: `prepare_run` (a new run, or one made ready to continue), then the worker process
  `worker_command` with `worker_env`;
- find a run (`find_run`) and the adapter inside a checkpoint (`adapter_folder`);
- export a run's checkpoint (`export_run`);
- combine finished runs into a new run (`core.combine`, which loads torch only to build the adapter).

Torch-free at import (the window imports it on its GUI thread); `export_run` loads torch when called.
Errors a person can fix are `core.errors.RequestError` (the CLI's ``CliError``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.args import TrainingArguments
from core.config import PeftType
from core.data import DataConfig
from core.defaults import method_defaults, model_method_defaults
from core.errors import ConfigError, RequestError

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
    if run.config.combined is not None:
        raise RequestError(f"run {run.id} was made by combining runs {', '.join(map(str, run.config.combined.get('runs', [])))}, "
                           "not trained: there is nothing to continue. Train a new run, or combine again.")
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


def export_run(model_ref: str, checkpoint: Path, dest: Path, *, merged: bool, training: dict[str, Any] | None = None,
               serving: bool = False) -> Any:
    """Load the base model and a checkpoint's adapter, then export with `core.export` (verified): merged, the
    adapter as trained, or (``serving``) its serving-compatible copy (`core.export.export_serving_adapter`).

    ``training`` (the run's training settings) gives the base precision the adapter was trained on: an adapter
    trained on a 4-bit base is checked against that base, and merged into its float decoding (`core.export`)."""
    # Imported here: these load torch and transformers, which the window keeps off its GUI thread.
    from core.export import export_adapter, export_merged, export_serving_adapter
    from core.peft_model import PeftModel
    from core.quantize import load_base

    settings = training or {}
    model, tokenizer = load_base(
        model_ref, base_precision=settings.get("base_precision", "float32"), quant_type=settings.get("quant_type", "nf4"),
        double_quant=settings.get("double_quant", True), compute_dtype=settings.get("compute_dtype", "float32"),
        device="cpu",
    )
    peft = PeftModel.from_pretrained(model, adapter_folder(checkpoint))
    if merged:
        return export_merged(peft, tokenizer, dest)
    if serving:
        return export_serving_adapter(peft, dest, tokenizer=tokenizer)
    return export_adapter(peft, dest, tokenizer=tokenizer)


def method_type(name: str) -> str:
    """A method as a person types it (``lora``, ``prefix-tuning``) -> its ``PeftType`` name."""
    key = name.strip().upper().replace("-", "_")
    try:
        return PeftType(key).value
    except ValueError:
        known = ", ".join(t.value.lower() for t in PeftType)
        raise RequestError(f"unknown method {name!r}; choose one of: {known}.") from None


def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON when it parses (numbers, booleans, lists), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_sets(pairs: list[str], method: dict[str, Any], data: dict[str, Any], training: dict[str, Any]) -> None:
    """``key=value`` settings into the three config dicts. A key may be prefixed with ``method.``,
    ``data.`` or ``train.``; unprefixed, it goes to the one config that has a field of that name."""
    from core.methods import REGISTRY  # the method's Config class: loads torch

    method_fields = {f.name for f in dataclasses.fields(REGISTRY[PeftType(method["peft_type"])].Config)}
    targets = {
        "method": (method, method_fields),
        "data": (data, {f.name for f in dataclasses.fields(DataConfig)}),
        "train": (training, {f.name for f in dataclasses.fields(TrainingArguments)}),
    }
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise RequestError(f"--set expects key=value, not {pair!r}.")
        key = key.strip()
        prefix, dot, name = key.partition(".")
        if dot and prefix in targets:
            where = [prefix] if name in targets[prefix][1] else []
        else:
            name = key
            where = [w for w, (_, names) in targets.items() if name in names]
        if not where:
            raise RequestError(f"--set {key}: no setting of that name (see the method, data and training settings in docs/project-file.md).")
        if len(where) > 1:
            raise RequestError(f"--set {key}: ambiguous; write {' or '.join(f'{w}.{name}' for w in where)}.")
        targets[where[0]][0][name] = parse_value(value)


def create_project(
    path: str | os.PathLike[str], *, model: str, method: str, dataset: str, targets: str | None = None,
    data_format: str | None = None, sets: Sequence[str] = (), check_targets: bool = True,
) -> tuple[Path, str]:
    """Create a project file with the method's defaults (`core.defaults.method_defaults`, the same the
    studio's first project starts with) and the given overrides; returns (path, a one-line summary).
    Raises person-readable errors."""
    # Imported here: the registry loads torch; the store loads sqlite_utils (and pandas), ~1 s.
    from core.methods import config_from_dict
    from core.store import Project, ProjectSettings

    ptype = method_type(method)
    method_config, training_defaults = method_defaults(ptype)
    if targets:
        names = [t.strip() for t in targets.split(",") if t.strip()]
        method_config["target_modules"] = names[0] if len(names) == 1 and names[0] == "all-linear" else names
    data_file = Path(dataset).expanduser()
    if not data_file.exists():
        raise RequestError(f"dataset {dataset} does not exist.")
    data: dict[str, Any] = {"path": str(data_file.resolve())}
    if data_format:
        data["format"] = data_format
    training = dataclasses.asdict(TrainingArguments.from_dict(training_defaults))
    apply_sets(list(sets), method_config, data, training)
    base = None
    experts: list[str] = []
    if check_targets or not targets:
        from core.models import skeleton

        base = skeleton(model)  # meta device: no weights, ~1 s
        if not targets:  # the person chose no modules: the model's defaults (a MoE model's experts too)
            experts = model_method_defaults(method_config, base)

    # Validate everything before writing anything: the configs, then the targets against the model.
    try:
        peft_config = config_from_dict(method_config, source="the method settings")
        peft_config.check_complete()  # a run needs every setting its adapter is built from (e.g. num_virtual_tokens)
    except ConfigError as exc:
        if not experts:
            raise
        raise ConfigError(
            f"{exc} (The default for this mixture-of-experts model also adapts its experts through "
            f"target_parameters={experts}; add --set target_parameters=[] to adapt the attention layers only.)"
        ) from exc
    data_config = DataConfig(**data)
    train_args = TrainingArguments.from_dict(training)
    method_config = peft_config.to_dict()
    summary = f"{ptype} on {model}"
    if experts:
        summary += f" (attention and the experts: {', '.join(experts)})"
    if check_targets:
        from core.peft_model import get_peft_model

        adapted = get_peft_model(base, peft_config)
        trainable, total = adapted.get_nb_trainable_parameters()
        summary += f", {trainable:,d} trainable parameters ({100 * trainable / total:.2f} %)"
    settings = ProjectSettings(model=model, method_config=method_config, data=dataclasses.asdict(data_config),
                               training=dataclasses.asdict(train_args))
    path = Path(path)
    Project.create(path, settings).close()
    return path, summary
