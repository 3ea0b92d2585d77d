"""Combine finished runs into a new run: adapter arithmetic (`core.arithmetic.add_weighted_adapter`) as a
use case of a project, for both front ends (``adapter-studio combine`` and the studio's Combine dialog).

Three steps, so that the window can keep the project file on its GUI thread and the tensors on a pool thread:

1. `plan_combination(project, request)` (torch-free): reads the runs and their checkpoints' adapter configs and
   refuses, naming the runs, what cannot be combined (another base model or base precision, another method,
   DoRA, PiSSA, different ranks for a rule that adds factors, a run still training or without a checkpoint...).
   Returns a `CombinationPlan`: plain data, safe to hand to another thread.
2. `build_adapter(plan, folder)` (torch): loads the base once, each run's last checkpoint as one adapter, calls
   ``add_weighted_adapter`` and writes the combined adapter in PEFT's layout to ``folder/adapter``. Writes
   nothing into the project: the studio's preview plays this folder before anything is saved.
3. `record_combination(project, plan, folder)`: the folder becomes a new run (`Project.add_finished_run`):
   status completed, one checkpoint (step 0) holding the adapter, the config snapshot of the first run with the
   combined adapter's config and a ``combined`` entry saying what it was made of. Exports, evaluation, the
   playground and the A/B view read it like any run.

`combine_runs` does all three (the CLI).
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import RequestError
from core.methods import catalog

# The names of core.arithmetic (kept here as literals: that module imports torch, this one must not).
FACTOR_TYPES = ("linear", "ties", "dare_linear", "dare_ties", "magnitude_prune")
"""Rules that add the A's and the B's: every run needs the same rank."""
SVD_TYPES = ("svd", "ties_svd", "dare_linear_svd", "dare_ties_svd", "magnitude_prune_svd")
"""Rules on the full updates ΔW, factorised again by SVD (``svd_rank``, default the largest rank)."""
COMBINATION_TYPES = (*FACTOR_TYPES, "cat", *SVD_TYPES)
NEEDS_DENSITY = ("ties", "dare_linear", "dare_ties", "magnitude_prune")
"""Rules (without ``_svd``) that prune each tensor to ``density`` first."""
NEEDS_SIGN = ("ties", "dare_ties")
"""Rules (without ``_svd``) that keep only the values agreeing with the majority sign."""
RANDOM = ("dare_linear", "dare_ties")
"""Rules (without ``_svd``) that draw random masks: the plan's ``seed`` makes them reproducible."""
FINISHED = ("completed", "stopped")
"""Run statuses that may be combined: the run ended as its worker reported, with its final checkpoint."""


def combination_types(method: str) -> tuple[str, ...]:
    """The combination types of ``method``'s runs (its file's ``FACTS.combination_types``); () for none."""
    try:
        return catalog.facts(method).combination_types
    except catalog.UnknownMethod:
        return ()


def rule(how: str) -> str:
    """A combination type without its ``_svd`` suffix (``ties_svd`` -> ``ties``)."""
    return how.removesuffix("_svd") if how != "svd" else "svd"


def needs_density(how: str) -> bool:
    return rule(how) in NEEDS_DENSITY


def needs_sign(how: str) -> bool:
    return rule(how) in NEEDS_SIGN


def needs_svd_rank(how: str) -> bool:
    return how in SVD_TYPES


@dataclass
class CombineRequest:
    """What a person asks for: runs, one weight each, a combination type and its knobs."""

    runs: list[int]
    weights: list[float]
    how: str = "cat"
    """A combination type (`COMBINATION_TYPES`). ``cat`` is exact (ranks add up), hence the default."""
    density: float | None = None
    """Fraction of values kept (ties, dare, magnitude_prune and their svd variants)."""
    majority_sign_method: str = "total"
    """ties / dare_ties: ``total`` (sign of the weighted sum) or ``frequency`` (the more frequent sign)."""
    svd_rank: int | None = None
    """The svd types' rank (default: the largest rank of the runs)."""
    seed: int = 0
    """torch's seed before combining: dare's random masks are the same for the same seed."""
    name: str = ""
    """The new run's name; default `combination_name`."""


@dataclass
class Source:
    """One run going into a combination."""

    run_id: int
    name: str
    weight: float
    checkpoint: str
    """The adapter folder (inside the run's last checkpoint)."""


@dataclass
class CombinationPlan:
    """Everything `build_adapter` and `record_combination` need, as plain data (no project connection)."""

    sources: list[Source]
    how: str
    method: str
    """The runs' ``PeftType`` value (``LORA`` or ``IA3``)."""
    model: str
    training: dict[str, Any]
    data: dict[str, Any]
    name: str
    density: float | None = None
    majority_sign_method: str = "total"
    svd_rank: int | None = None
    seed: int = 0
    settings: dict[str, Any] = field(default_factory=dict)
    """The first run's config snapshot (`core.store.ProjectSettings.to_dict`), the new run's starting point."""

    def describe(self) -> dict[str, Any]:
        """The ``combined`` entry of the new run's config: what it is made of, enough to make it again."""
        out: dict[str, Any] = {
            "runs": [s.run_id for s in self.sources], "names": [s.name for s in self.sources],
            "weights": [s.weight for s in self.sources], "combination_type": self.how, "seed": self.seed,
            "checkpoints": [s.checkpoint for s in self.sources],
        }
        if needs_density(self.how):
            out["density"] = self.density
        if needs_sign(self.how):
            out["majority_sign_method"] = self.majority_sign_method
        if needs_svd_rank(self.how):
            out["svd_rank"] = self.svd_rank
        return out


def _weight(w: float) -> str:
    return f"{w:g}"


def combination_name(names: list[str], weights: list[float], how: str) -> str:
    """``0.5×run 3 + 0.5×run 5 (ties)``; a negative weight reads as a subtraction (``0.7×run 3 − 0.4×run 5``)."""
    parts = []
    for i, (name, w) in enumerate(zip(names, weights)):
        term = f"{_weight(abs(w))}×{name}"
        if i == 0:
            parts.append(f"−{term}" if w < 0 else term)
        else:
            parts.append(f"{'−' if w < 0 else '+'} {term}")
    return f"{' '.join(parts)} ({how})"


def _adapter_config(checkpoint: Path) -> dict[str, Any]:
    from core.runs import adapter_folder

    path = adapter_folder(checkpoint) / "adapter_config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RequestError(f"the adapter of {checkpoint} cannot be read ({exc}).") from None


def _rank(config: dict[str, Any]) -> int:
    pattern = config.get("rank_pattern") or {}
    return max([int(config.get("r") or 0), *(int(v) for v in pattern.values())])


def _base(run: Any) -> tuple[str, str]:
    """What a run's adapter sits on: the model and, when quantized, how (a 4-bit base is another base)."""
    t = run.config.training or {}
    precision = str(t.get("base_precision") or "float32")
    if precision in ("8bit", "4bit"):
        precision += f" {t.get('quant_type', 'nf4')}" if precision == "4bit" else ""
    return run.config.model, precision


def _names(runs: list[Any]) -> str:
    """``run 3`` or ``runs 3, 5``."""
    return f"run {runs[0].id}" if len(runs) == 1 else "runs " + ", ".join(str(r.id) for r in runs)


def plan_combination(project: Any, request: CombineRequest) -> CombinationPlan:
    """Check ``request`` against the project's runs and return what to build; `RequestError` naming the runs
    when the combination is impossible. Torch-free: reads the project file and the adapters' config files."""
    from core.runs import adapter_folder, find_run

    ids = [int(i) for i in request.runs]
    if len(ids) < 2:
        raise RequestError(f"combining needs at least two runs (got {len(ids)}); pick the runs to combine.")
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise RequestError(f"run {twice[0]} is listed twice; give each run once, with its weight.")
    weights = [float(w) for w in request.weights]
    if len(weights) != len(ids):
        raise RequestError(f"{len(ids)} runs but {len(weights)} weights; give one weight per run, in the same order.")
    bad = [(i, w) for i, w in zip(ids, weights) if not math.isfinite(w)]
    if bad:
        raise RequestError(f"the weight of run {bad[0][0]} is {bad[0][1]}; weights must be numbers.")
    if all(w == 0 for w in weights):
        raise RequestError("every weight is 0: the combination would change nothing. Give at least one run a weight.")
    how = request.how
    if how not in COMBINATION_TYPES:
        raise RequestError(f"unknown combination type {how!r}; choose one of: {', '.join(COMBINATION_TYPES)}.")
    density = request.density
    if needs_density(how):
        if density is None:
            raise RequestError(f"the combination type {how} needs a density (the fraction of values kept, e.g. 0.5).")
        if not 0 < density <= 1:
            raise RequestError(f"density must be above 0 and at most 1 (the fraction of values kept), not {density}.")
    if needs_sign(how) and request.majority_sign_method not in ("total", "frequency"):
        raise RequestError(f"the majority sign method is 'total' or 'frequency', not {request.majority_sign_method!r}.")
    if request.svd_rank is not None and (not needs_svd_rank(how) or request.svd_rank < 1):
        if not needs_svd_rank(how):
            raise RequestError(f"an SVD rank applies to the svd types only ({', '.join(SVD_TYPES)}), not to {how}.")
        raise RequestError(f"the SVD rank must be a positive whole number, not {request.svd_rank}.")

    runs = [find_run(project, i) for i in ids]
    unfinished = [r for r in runs if r.status not in FINISHED]
    if unfinished:
        r = unfinished[0]
        why = "is training" if r.alive else f"has status {r.status}"
        raise RequestError(f"run {r.id} {why}; only finished runs (completed or stopped) can be combined.")
    checkpoints = {}
    for r in runs:
        last = project.last_checkpoint(r.id)
        if last is None:
            raise RequestError(f"run {r.id} has no checkpoint on disk to combine (its folder {r.checkpoint_dir} is empty "
                               "or was moved).")
        checkpoints[r.id] = last
    bases = {r.id: _base(r) for r in runs}
    if len(set(bases.values())) > 1:
        listing = "; ".join(f"run {i} on {m}" + (f" ({p})" if p != "float32" else "") for i, (m, p) in bases.items())
        raise RequestError(f"{_names(runs)} were not trained on the same base model ({listing}); an adapter only "
                           "fits the base it was trained on.")
    configs = {r.id: _adapter_config(checkpoints[r.id]) for r in runs}
    methods = {i: str(c.get("peft_type", "")) for i, c in configs.items()}
    if len(set(methods.values())) > 1:
        listing = ", ".join(f"run {i} {m}" for i, m in methods.items())
        raise RequestError(f"{_names(runs)} use different methods ({listing}); only adapters of one method can be combined.")
    method = methods[ids[0]]
    types = combination_types(method)
    if not types:
        combinable = [catalog.facts(m).label for m in catalog.names() if catalog.facts(m).combination_types]
        raise RequestError(f"{_names(runs)} are {method} runs, which have no combination rule; runs of "
                           f"{' and '.join(combinable)} can be combined.")
    if how not in types:
        raise RequestError(f"{catalog.facts(method).label} runs combine by {' or '.join(types)} only; "
                           f"choose {types[0]} instead of {how}.")
    _check_adapters(runs, configs, how)
    name = request.name.strip() or combination_name([r.name or f"run {r.id}" for r in runs], weights, how)
    first = runs[0]
    return CombinationPlan(
        sources=[Source(r.id, r.name or f"run {r.id}", w, str(adapter_folder(checkpoints[r.id]))) for r, w in zip(runs, weights)],
        how=how, method=method, model=first.config.model, training=dict(first.config.training or {}),
        data=dict(first.config.data or {}), name=name, density=density if needs_density(how) else None,
        majority_sign_method=request.majority_sign_method, svd_rank=request.svd_rank if needs_svd_rank(how) else None,
        seed=int(request.seed), settings=first.config.to_dict(),
    )


def _check_adapters(runs: list[Any], configs: dict[int, dict[str, Any]], how: str) -> None:
    """The refusals of `core.arithmetic.add_weighted_adapter`, said with the runs' names before anything loads (the
    LoRA settings they read are absent from an IA3 config, and IA3 has one rule, linear, on vectors: no rank)."""
    dora = [r for r in runs if configs[r.id].get("use_dora")]
    if dora:
        raise RequestError(f"{_names(dora)} trained DoRA adapters; their magnitude vectors do not add up, so DoRA runs "
                           "cannot be combined.")
    pissa = [r for r in runs if str(configs[r.id].get("init_lora_weights", "")).startswith("pissa")]
    if pissa:
        raise RequestError(f"{_names(pissa)} started from PiSSA (init_lora_weights={configs[pissa[0].id]['init_lora_weights']!r}): "
                           "each such adapter belongs to a base with its own principal part moved out, so it cannot be "
                           "combined with another.")
    experts = [r for r in runs if configs[r.id].get("target_parameters")]
    if experts:
        raise RequestError(f"{_names(experts)}: expert weights are adapted (target_parameters), and those have no combination rule.")
    saved = [r for r in runs if configs[r.id].get("modules_to_save")]
    if len(saved) > 1:
        raise RequestError(f"{_names(saved)} each train their own copy of whole modules (modules_to_save: "
                           f"{', '.join(configs[saved[0].id]['modules_to_save'])}); such copies cannot be combined.")
    kinds = {isinstance(configs[r.id].get("target_modules"), str) for r in runs}
    if len(kinds) > 1:
        regex = [r for r in runs if isinstance(configs[r.id].get("target_modules"), str)]
        raise RequestError(f"{_names(regex)}: targets named by a regular expression, the other runs' by a list; "
                           "such runs cannot be combined.")
    if how in FACTOR_TYPES and all("r" in configs[r.id] for r in runs):
        ranks = {r.id: _rank(configs[r.id]) for r in runs}
        if len(set(ranks.values())) > 1:
            listing = ", ".join(f"run {i} r={k}" for i, k in ranks.items())
            raise RequestError(f"{how} adds the runs' A and B matrices, so they need the same rank ({listing}); "
                               "choose cat or an svd type for different ranks.")


def build_adapter(plan: CombinationPlan, folder: Path, progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Load the base model and each source run's adapter, combine them and write the result to ``folder/adapter``
    (PEFT's layout). Returns the combined adapter's config (``PeftConfig.to_dict()``). Loads torch."""
    import torch

    from core.models import load_model
    from core.peft_model import PeftModel

    say = progress or (lambda fraction, message: None)
    folder = Path(folder)
    n = len(plan.sources)
    say(0.0, f"loading {plan.model}")
    # The adapters' tensors do not depend on the base weights (PiSSA, which does, is refused by the plan): the base
    # loads in float32 on the CPU whatever precision it trained in; the run's own precision is kept for exports.
    model, _ = load_model(plan.model)
    names = [f"run{s.run_id}" for s in plan.sources]
    peft = None
    for i, (source, name) in enumerate(zip(plan.sources, names)):
        say(0.1 + 0.6 * i / n, f"loading {source.name}")
        if peft is None:
            peft = PeftModel.from_pretrained(model, source.checkpoint, adapter_name=name)
        else:
            peft.load_adapter(source.checkpoint, adapter_name=name)
    say(0.75, f"combining ({plan.how})")
    options: dict[str, Any] = {}
    if plan.method == "LORA":
        options = {"combination_type": plan.how}
        if needs_density(plan.how):
            options["density"] = plan.density
        if needs_sign(plan.how):
            options["majority_sign_method"] = plan.majority_sign_method
        if needs_svd_rank(plan.how) and plan.svd_rank:
            options["svd_rank"] = plan.svd_rank
    torch.manual_seed(plan.seed)  # dare's masks: the same plan gives the same adapter
    peft.add_weighted_adapter(names, [s.weight for s in plan.sources], "combined", **options)
    say(0.9, "writing the adapter")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".writing-") as tmp:
        peft.save_pretrained(tmp, selected_adapters=["combined"])  # a non-default adapter goes into tmp/combined
        target = folder / "adapter"
        if target.exists():
            shutil.rmtree(target)
        Path(tmp, "combined").rename(target)
    config = peft.peft_config["combined"]
    config.inference_mode = True  # as a trained run's checkpoint is read back
    say(1.0, "done")
    return config.to_dict()


def record_combination(project: Any, plan: CombinationPlan, folder: Path, method_config: dict[str, Any] | None = None) -> int:
    """Record ``folder/adapter`` (`build_adapter`'s output, moved, not copied) as a new finished run; returns its id."""
    from core.store import ProjectSettings

    adapter = Path(folder) / "adapter"
    if method_config is None:
        method_config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    settings = ProjectSettings.from_dict(plan.settings)
    settings.method_config = dict(method_config)
    settings.training = dict(plan.training)
    settings.combined = plan.describe()
    parts = ", ".join(f"{_weight(s.weight)} × run {s.run_id} ({s.checkpoint})" for s in plan.sources)
    knobs = "".join(f", {k} {v}" for k, v in plan.describe().items() if k in ("density", "majority_sign_method", "svd_rank")
                    and v is not None)
    message = f"combined by {plan.how}{knobs}, seed {plan.seed}: {parts}"
    return project.add_finished_run(plan.name, settings, adapter, message=message)


def combine_runs(project: Any, request: CombineRequest, progress: Callable[[float, str], None] | None = None) -> int:
    """Plan, build and record a combination in one go (the CLI); returns the new run's id."""
    if project.readonly:
        raise RequestError(project.readonly_reason or "the project is read-only")
    plan = plan_combination(project, request)
    project.artifacts_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=project.artifacts_dir, prefix=".combine-"))
    try:
        method_config = build_adapter(plan, folder, progress)
        return record_combination(project, plan, folder, method_config)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
