"""Export a trained adapter: as a merged Hugging Face model, or adapter-only in PEFT's layout.

Every export is written to a temporary folder beside the destination, reloaded and compared with the
adapter model on a few inputs, and only then renamed into place. A failed check removes the temporary
folder and raises `ExportError` saying what differed; the destination is never half-written.

Merging happens in place: the adapter's update is added into the base weights of the live model
(``merge_adapter``), the merged weights are saved under their plain names, and the update is taken out
again (``unmerge_adapter``), so the model is never copied. The check compares the written folder's
logits on the CPU with logits of the adapter model computed before merging.

The check never holds a second copy of the weights in memory either. The written ``config.json``
rebuilds the model class with its parameters on the meta device (no memory; buffers that are not
saved, such as rotary ``inv_freq``, are computed for real as in any construction); then every
parameter is assigned a tensor that *is* the written safetensors file: we read each file's header
(8-byte little-endian length, then JSON ``{name: {dtype, shape, data_offsets}}``), map the file
(``mmap``) and view each tensor's byte range with ``torch.frombuffer``, zero copy. The weights the
check runs on are therefore the bytes on disk, held as file-backed pages the kernel shares with its
page cache and can drop, not as anonymous memory. (transformers' own ``from_pretrained`` maps on Linux
and macOS but reads the whole file into memory on Windows.) Only when the written names are not the
module's own (a model whose checkpoint layout transformers converts while loading) does the check fall
back to ``AutoModelForCausalLM.from_pretrained``.

Prompt-learning methods (prompt tuning, P-tuning, prefix tuning, adaption prompt) add virtual tokens or
attention prefixes rather than weight updates: they cannot be merged and export as adapters only.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import math
import mmap
import os
import re
import shutil
import struct
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from core.errors import ExportError
from core.methods import catalog
from core.quantize import dequantized_model, is_quantized

CHECK_TEXTS = ("The capital of France is", "def fibonacci(n):\n    return", "Once upon a time, in a small village,")

_log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    """What was written and how well it matched the adapter model."""

    path: str
    kind: str
    """``"merged"``, ``"adapter"`` or ``"serving-adapter"``."""
    max_abs_diff: float
    """Largest absolute logit difference between the reloaded export and the adapter model."""
    files: list[str] = field(default_factory=list)
    bytes: int = 0


def is_mergeable(peft: Any) -> bool:
    """True when the adapter's method changes weights (and can therefore be merged into them)."""
    return catalog.facts(peft.peft_type).mergeable


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
        diff = _reload_and_compare(peft, tmp, tokenizer, inputs, reference, tolerance, "the reloaded adapter")
        return _finish(tmp, dest, "adapter", diff)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _reload_and_compare(peft: Any, folder: Path, tokenizer: Any, inputs: Any, reference: Any, tolerance: float | None,
                        what: str) -> float:
    """Save the tokenizer beside the adapter written to ``folder``, load that adapter back beside the live one
    and compare its logits with ``reference`` (n, T, V): the largest difference, or `ExportError` naming ``what``."""
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    active, check = peft.active_adapter, "export_check"
    peft.load_adapter(folder, check)
    try:
        peft.set_adapter(check)
        got = _logits(peft, inputs)
    finally:
        peft.set_adapter(active)
        peft.delete_adapter(check)
    return _compare(reference, got, tolerance, what)


def export_serving_adapter(peft: Any, dest: str | os.PathLike[str], *, tokenizer: Any = None, overwrite: bool = False,
                           tolerance: float | None = None) -> ExportResult:
    """Write the active LoRA adapter as a serving-compatible PEFT folder (`core.serving.serving_compatible`:
    one rank, ``lora_alpha == r``, each module's own scale baked into ``lora_B``), for servers that apply one
    ``alpha / r`` to every module (TGI, LoRAX). Verified like `export_adapter`: the copy is loaded back
    beside the live adapter and must give its logits. `ExportError` with the reasons where no such copy
    exists (DoRA, ``modules_to_save``, trained biases, methods other than LoRA)."""
    from core.serving import serving_compatible

    dest = _check_dest(dest, overwrite)
    inputs = _check_inputs(peft, tokenizer)
    reference = _logits(peft, inputs)  # (n, T, V)
    raw = Path(tempfile.mkdtemp(prefix=f".{dest.name}.raw-", dir=dest.parent))
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        peft.save_pretrained(raw)
        try:
            # the adapter as PEFT saves it is the input; messages name the destination, not the scratch folder
            serving_compatible(raw / _subfolder(peft.active_adapter), tmp, name=f"the adapter for {dest.name}")
        except ValueError as exc:
            raise ExportError(str(exc)) from None
        diff = _reload_and_compare(peft, tmp, tokenizer, inputs, reference, tolerance, "the serving-compatible adapter")
        return _finish(tmp, dest, "serving-adapter", diff)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(raw, ignore_errors=True)


def export_merged(peft: Any, tokenizer: Any, dest: str | os.PathLike[str], *, max_shard_size: int | str = "2GB",
                  overwrite: bool = False, tolerance: float | None = None, dtype: str | None = None) -> ExportResult:
    """Write the base model with the active adapter merged in as a Hugging Face folder (config,
    safetensors sharded at ``max_shard_size``, tokenizer, generation config) that
    ``AutoModelForCausalLM.from_pretrained`` loads; verified by reloading it with its weights mapped
    from the written files (no second copy, see the module docstring). The live adapter model is
    unchanged afterwards (up to float rounding of merge + unmerge).

    A quantized (8-bit / 4-bit) base is first decoded into a float copy in ``dtype`` (default: its compute
    dtype) with the adapter loaded onto it (`core.quantize.dequantized_model`; one float copy of the base in
    memory), merged there and written in that dtype; the check compares the written model with that float
    adapter model (in float32 the same logits as the quantized one, tests/core/test_qlora.py). Merging into quantized weights in place would requantize them and lose the update."""
    if not is_mergeable(peft):
        name = str(getattr(peft.peft_type, "value", peft.peft_type))
        raise ExportError(
            f"A {name} adapter cannot be merged into the model's weights: it adds virtual tokens or attention "
            "prefixes, not weight updates. Export the adapter instead (adapter-only, PEFT's layout)."
        )
    dest = _check_dest(dest, overwrite)
    inputs = _check_inputs(peft, tokenizer)
    reference = _logits(peft, inputs)  # (n, T, V), computed before the merge
    if is_quantized(peft.get_base_model()):
        peft = _float_copy(peft, dtype)
        # The check is against the float copy: in float32 it reproduces the quantized model's logits (the
        # decode is the quantized forward's own), in bfloat16/float16 the rounding to that dtype is the choice made.
        reference = _logits(peft, inputs)
        if tolerance is None and peft.get_base_model().dtype != torch.float32:
            # merged in 16 bits (8-bit mantissa for bfloat16): each weight rounds by up to 2^-9 of itself
            tolerance = 5e-2 * max(1.0, float(reference.abs().max()))
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
        got = _written_logits(tmp, inputs)
        diff = _compare(reference, got, tolerance, "the reloaded merged model")
        return _finish(tmp, dest, "merged", diff)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# --------------------------------------------------------------------------------------------------


def _float_copy(peft: Any, dtype: str | None) -> Any:
    """The adapter model on a float copy of its quantized base (decoded exactly, see `core.quantize`)."""
    from core.peft_model import PeftModel

    base = peft.get_base_model()
    quant = getattr(base.config, "quantization_config", None)
    compute = getattr(quant, "bnb_4bit_compute_dtype", None) if quant is not None else None
    name = dtype or str(compute or "float32").removeprefix("torch.")
    float_base = dequantized_model(base, name)
    with tempfile.TemporaryDirectory(prefix="adapter-studio-dequantized-") as tmp:
        peft.save_pretrained(tmp, selected_adapters=[peft.active_adapter])
        return PeftModel.from_pretrained(float_base, Path(tmp) / _subfolder(peft.active_adapter), adapter_name=peft.active_adapter)


def _subfolder(adapter: str) -> str:
    return "" if adapter == "default" else adapter  # PEFT writes a non-default adapter into its own subfolder


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
        # nested wrappers (LoRA on two parameters of one module) stack several: ``experts.base_layer.base_layer.w``
        name = re.sub(r"(\.base_layer)+\.", ".", key.replace(f".modules_to_save.{adapter}.", "."))
        if name in plain:
            out[name] = tensor
    missing = plain - set(out)
    if missing:
        raise ExportError(f"Cannot map the merged model back to plain weights; e.g. {sorted(missing)[0]} is missing.")
    return out


def _written_logits(folder: Path, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits ``(n, T, V)`` of the model written to ``folder``, which is unmapped again on return."""
    model = _reload(folder)
    try:
        return _logits(model, inputs)
    finally:
        # The mapped tensors hold the mmaps; drop them before the folder is renamed or removed (Windows
        # refuses either while a file is mapped). gc: a model's reference cycles would keep them longer.
        del model
        gc.collect()


def _reload(folder: Path) -> torch.nn.Module:
    """The written merged model, on the CPU, its weights mapped from the written files (see the module
    docstring); transformers' loader when the written names need its conversions."""
    model = _load_mapped(folder)
    if model is not None:
        return model
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(folder, device_map="cpu")
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"Verification failed: the written model does not load ({exc}); nothing was written.") from None


def _load_mapped(folder: Path) -> torch.nn.Module | None:
    """Rebuild the model from ``folder/config.json`` with every weight a zero-copy view of the written
    safetensors. None when the written names do not match the module's parameters one to one."""
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(folder)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"Verification failed: the written config.json does not load ({exc}); nothing was written.") from None
    state = _mapped_state_dict(folder)
    dtype = getattr(config, "dtype", None) or next((t.dtype for t in state.values() if t.is_floating_point()), None)
    try:
        with _parameters_on_meta():
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
        # assign=True: each parameter becomes the mapped tensor itself (its dtype too), not a copy into
        # the module's own storage (which on meta has none).
        missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"Verification failed: the written model does not load ({exc}); nothing was written.") from None
    if unexpected:
        _log.info("export check: %d written names are not the module's (e.g. %s); loading through transformers",
                  len(unexpected), unexpected[0])
        return None
    # Tied weights are written once (e.g. embed_tokens.weight, not lm_head.weight): point the missing
    # side at the written one, as from_pretrained does.
    try:
        model.tie_weights(missing_keys=set(missing))
    except TypeError:  # a transformers without the symmetric form
        model.tie_weights()
    left = [name for name, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if left:
        _log.info("export check: %s was not written under the module's name; loading through transformers", left[0])
        return None
    return model.eval()


@contextlib.contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """While a model is built in this thread, every parameter it registers goes to the meta device
    (shape and dtype, no storage); buffers stay real.

    Building wholly on the meta device would leave non-persistent buffers (rotary ``inv_freq (head_dim/2,)``,
    causal masks) without values: they are not in the file, so nothing could fill them. Moving only
    parameters keeps every buffer computed by the module's own ``__init__``. A parameter is allocated
    (``torch.empty``, mostly never touched) only for the moment its module registers it. Other
    threads building modules meanwhile are left alone."""
    builder = threading.get_ident()

    def to_meta(module: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> torch.nn.Parameter | None:
        if param is None or param.is_meta or threading.get_ident() != builder:
            return None
        return torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)

    handle = torch.nn.modules.module.register_module_parameter_registration_hook(to_meta)
    try:
        yield
    finally:
        handle.remove()


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U64": torch.uint64, "U32": torch.uint32, "U16": torch.uint16, "U8": torch.uint8, "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}  # fmt: skip
# Private (copy-on-write) pages where possible: a stray in-place write changes our view, never the file,
# and never faults. Windows reserves commit charge for a whole copy-on-write view, so map read-only there.
_MAP_ACCESS = mmap.ACCESS_READ if os.name == "nt" else mmap.ACCESS_COPY


def _mapped_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """Every tensor of the written safetensors (one file, or the shards its index lists), mapped."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        files = sorted(set(weight_map.values()))
    elif (folder / "model.safetensors").is_file():
        weight_map, files = {}, ["model.safetensors"]
    else:
        raise ExportError("Verification failed: no model.safetensors was written; nothing was written.")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(_map_safetensors(folder / file))
    stray = next((k for k, f in weight_map.items() if k not in state), None)
    if stray is not None:
        raise ExportError(f"Verification failed: the index names {stray} in {weight_map[stray]}, which lacks it; "
                          "nothing was written.")
    return state


def _map_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """One safetensors file as zero-copy tensors over an ``mmap`` of it.

    Layout: ``u64 (little-endian) n``, then ``n`` bytes of JSON ``{name: {"dtype", "shape",
    "data_offsets": [begin, end]}}`` (offsets relative to the byte after the header), then the data.
    Each tensor keeps the mapping alive; it is unmapped when the last tensor over it is freed."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            mapped = mmap.mmap(f.fileno(), 0, access=_MAP_ACCESS)
    except (OSError, ValueError, struct.error) as exc:
        raise ExportError(f"Verification failed: {path.name} is not a readable safetensors file ({exc}); "
                          "nothing was written.") from None
    start = 8 + n
    out: dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
            shape = tuple(int(d) for d in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
            numel = math.prod(shape)
            ok = dtype is not None and 0 <= begin and end - begin == numel * dtype.itemsize and start + end <= size
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ExportError(f"Verification failed: {name} in {path.name} is malformed ({info}); nothing was written.")
        if numel == 0:
            out[name] = torch.empty(shape, dtype=dtype)
        elif (start + begin) % dtype.itemsize:  # the writer aligns tensors; should one not be, copy just it
            out[name] = torch.frombuffer(bytearray(mapped[start + begin : start + end]), dtype=dtype).view(shape)
        else:
            with warnings.catch_warnings():  # a read-only map (Windows): nothing writes to the weights
                warnings.filterwarnings("ignore", "The given buffer is not writable")
                flat = torch.frombuffer(mapped, dtype=dtype, count=numel, offset=start + begin)
            out[name] = flat.view(shape)
    return out


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
