"""Export a trained adapter: as a merged Hugging Face model, or adapter-only in PEFT's layout.

Every export is written to a temporary folder beside the destination, reloaded and compared with the
adapter model on a few inputs, and only then renamed into place. A failed check removes the temporary
folder and raises `ExportError` saying what differed; the destination is never half-written.

Merging happens in place: the adapter's update is added into the base weights of the live model
(``merge_adapter``), the merged weights are saved under their plain names, and the update is taken out
again (``unmerge_adapter``), so the model is never copied. The check reloads the saved folder (on
the CPU, memory-mapped safetensors) and compares its logits with logits of the adapter model computed
before merging.

Prompt-learning methods (prompt tuning, P-tuning, prefix tuning, adaption prompt) add virtual tokens or
attention prefixes rather than weight updates: they cannot be merged and export as adapters only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

MERGEABLE = {"LORA", "ADALORA", "IA3"}
CHECK_TEXTS = ("The capital of France is", "def fibonacci(n):\n    return", "Once upon a time, in a small village,")


class ExportError(RuntimeError):
    """The export could not be written or did not verify; nothing was left at the destination."""


@dataclass
class ExportResult:
    """What was written and how well it matched the adapter model."""

    path: str
    kind: str
    """``"merged"`` or ``"adapter"``."""
    max_abs_diff: float
    """Largest absolute logit difference between the reloaded export and the adapter model."""
    files: list[str] = field(default_factory=list)
    bytes: int = 0


def is_mergeable(peft: Any) -> bool:
    """True when the adapter's method changes weights (and can therefore be merged into them)."""
    return str(getattr(peft.peft_type, "value", peft.peft_type)) in MERGEABLE


def export_adapter(peft: Any, dest: str | os.PathLike[str], *, tokenizer: Any = None, overwrite: bool = False,
                   tolerance: float | None = None) -> ExportResult:
    """Write the active adapter in PEFT's layout (``adapter_config.json``, ``adapter_model.safetensors``;
    the tokenizer too when given) to ``dest``, verified by loading it back beside the live adapter."""
    dest = _check_dest(dest, overwrite)
    inputs = _check_inputs(peft, tokenizer)
    reference = _logits(peft, inputs)  # (n, T, V)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        peft.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        active, check = peft.active_adapter, "export_check"
        peft.load_adapter(tmp, check)
        try:
            peft.set_adapter(check)
            got = _logits(peft, inputs)
        finally:
            peft.set_adapter(active)
            peft.delete_adapter(check)
        diff = _compare(reference, got, tolerance, "the reloaded adapter")
        return _finish(tmp, dest, "adapter", diff)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def export_merged(peft: Any, tokenizer: Any, dest: str | os.PathLike[str], *, max_shard_size: int | str = "2GB",
                  overwrite: bool = False, tolerance: float | None = None) -> ExportResult:
    """Write the base model with the active adapter merged in as a Hugging Face folder (config,
    safetensors sharded at ``max_shard_size``, tokenizer, generation config) that
    ``AutoModelForCausalLM.from_pretrained`` loads; verified by reloading it. The live adapter model
    is unchanged afterwards (up to float rounding of merge + unmerge)."""
    if not is_mergeable(peft):
        name = str(getattr(peft.peft_type, "value", peft.peft_type))
        raise ExportError(
            f"A {name} adapter cannot be merged into the model's weights: it adds virtual tokens or attention "
            "prefixes, not weight updates. Export the adapter instead (adapter-only, PEFT's layout)."
        )
    dest = _check_dest(dest, overwrite)
    inputs = _check_inputs(peft, tokenizer)
    reference = _logits(peft, inputs)  # (n, T, V), computed before the merge
    base = peft.get_base_model()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        peft.merge_adapter(safe_merge=True)
        try:
            state = _plain_state_dict(base, peft.active_adapter)
            base.save_pretrained(tmp, state_dict=state, max_shard_size=max_shard_size)
        finally:
            peft.unmerge_adapter()
        tokenizer.save_pretrained(tmp)
        got = _logits(_reload(tmp), inputs)
        diff = _compare(reference, got, tolerance, "the reloaded merged model")
        return _finish(tmp, dest, "merged", diff)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------------


def _check_dest(dest: str | os.PathLike[str], overwrite: bool) -> Path:
    dest = Path(dest).expanduser().absolute()
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())) and not overwrite:
        raise ExportError(f"{dest} already exists and is not empty; choose another folder or allow overwriting.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest


def _check_inputs(peft: Any, tokenizer: Any) -> dict[str, torch.Tensor]:
    """A few fixed inputs: ``input_ids (n, T)`` and ``attention_mask (n, T)``."""
    if tokenizer is None:
        vocab = peft.get_base_model().config.vocab_size
        ids = torch.randint(0, vocab, (3, 12), generator=torch.Generator().manual_seed(0))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"][:16] for t in CHECK_TEXTS]
    T = min(len(r) for r in rows)  # equal lengths: no padding to get in the way
    ids = torch.tensor([r[:T] for r in rows])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


@torch.no_grad()
def _logits(model: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    out = model(**{k: v.to(device) for k, v in inputs.items()}).logits.float().cpu()  # (n, T, V)
    model.train(was)
    return out


def _compare(reference: torch.Tensor, got: torch.Tensor, tolerance: float | None, what: str) -> float:
    diff = float((reference - got).abs().max())
    if tolerance is None:  # float32 merge rounding is ~1e-5 of the logit scale; half precision far more
        tolerance = 1e-3 * max(1.0, float(reference.abs().max()))
    if not diff <= tolerance:
        raise ExportError(
            f"Verification failed: {what} differs from the adapter model by up to {diff:.3g} in the logits "
            f"(allowed {tolerance:.3g}); nothing was written. Export in float32, or report this as a bug."
        )
    return diff


def _plain_state_dict(base: torch.nn.Module, adapter: str) -> dict[str, torch.Tensor]:
    """The merged weights under the plain model's parameter names (no copies).

    Adapter wrappers keep the original layer as ``<path>.base_layer``; modules_to_save keep the
    trained copy as ``<path>.modules_to_save.<adapter>``. The plain names come from the same class
    built on the meta device (no memory)."""
    with torch.device("meta"):
        plain = set(type(base)(base.config).state_dict())
    out: dict[str, torch.Tensor] = {}
    for key, tensor in base.state_dict().items():
        if ".original_module." in key:
            continue
        name = key.replace(f".modules_to_save.{adapter}.", ".").replace(".base_layer.", ".")
        if name in plain:
            out[name] = tensor
    missing = plain - set(out)
    if missing:
        raise ExportError(f"Cannot map the merged model back to plain weights; e.g. {sorted(missing)[0]} is missing.")
    return out


def _reload(folder: Path) -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(folder, device_map="cpu")
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"Verification failed: the written model does not load ({exc}); nothing was written.") from None


def _finish(tmp: Path, dest: Path, kind: str, diff: float) -> ExportResult:
    files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
    if dest.exists():  # empty, or overwrite allowed: move it aside, then swap
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
        os.replace(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, dest)
    return ExportResult(str(dest), kind, diff, files, size)
