"""Quantized bases (QLoRA): load a model in 8-bit or 4-bit with bitsandbytes, read weights back in float.

The quantized model is what transformers' ``BitsAndBytesConfig`` with the same settings produces, because
it *is* transformers' load: `load_quantized` calls ``AutoModelForCausalLM.from_pretrained`` with that
config, so the same modules are quantized (every ``nn.Linear`` except the output head; embeddings and
norms stay in float) to the same values, and an adapter trained here loads in PEFT on the same base.

- 4-bit (``Linear4bit``): NF4 or FP4 blocks of 64 weights with one float scale each; with double
  quantization the scales themselves are 8-bit-quantized in blocks of 256. About 0.5 byte a weight plus
  ~0.5 bit (double quantization; ~4 bits per 64 without) of scales.
- 8-bit (``Linear8bitLt``, LLM.int8()): int8 weights with one float32 scale per output row, 1 byte a weight.

The adapter layers (LoRA, AdaLoRA, (IA)³) wrap these layers like any ``nn.Linear`` (they are subclasses):
the frozen base runs its quantized forward, the adapter path runs in float32. Merging into quantized weights
would requantize and lose the update's precision, so it is refused; `core.export` merges into a float copy
made by `dequantized_model` instead.

Torch and bitsandbytes load lazily; the constants are read by the torch-free `core.args`.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "BASE_PRECISIONS", "QUANT_TYPES", "COMPUTE_DTYPES", "QUANTIZED", "bnb_config", "is_quantized",
    "is_quantized_layer", "dequantized_weight", "dequantized_model", "load_base", "load_quantized",
    "quantize_loaded", "quantized_bytes_per_param", "refuse_merge",
]  # fmt: skip

BASE_PRECISIONS = ("float32", "bfloat16", "float16", "8bit", "4bit")
QUANTIZED = ("8bit", "4bit")
QUANT_TYPES = ("nf4", "fp4")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
CLI_CHOICES = {"none": None, "8bit": "8bit", "4bit": "4bit"}
"""``adapter-studio new --quantize`` -> ``TrainingArguments.base_precision`` (None: keep the float default)."""

_LAYER_CLASSES = ("Linear4bit", "Linear8bitLt")


def quantized_bytes_per_param(base_precision: str, double_quant: bool = True) -> float:
    """Bytes a quantized Linear weight takes per parameter, scales included (see the module docstring)."""
    if base_precision == "4bit":
        # 4 bits + a float32 absmax per 64 weights; double quantization: an 8-bit absmax per 64 and a float32
        # scale per 256 of those
        return 0.5 + (1 / 64 + 4 / (64 * 256) if double_quant else 4 / 64)
    if base_precision == "8bit":
        return 1.0 + 0.0  # + 4 bytes per output row: counted by the caller, which knows the shapes
    raise ValueError(f"{base_precision!r} is not a quantized precision; use one of {', '.join(QUANTIZED)}.")


def bnb_config(base_precision: str, *, quant_type: str = "nf4", double_quant: bool = True,
               compute_dtype: str = "float32") -> Any:
    """transformers' ``BitsAndBytesConfig`` for ``base_precision`` ('8bit' or '4bit'), or None for a float one."""
    if base_precision not in BASE_PRECISIONS:
        raise ModelLoadError(f"base_precision must be one of {', '.join(BASE_PRECISIONS)}, not {base_precision!r}.")
    if base_precision not in QUANTIZED:
        return None
    if quant_type not in QUANT_TYPES:
        raise ModelLoadError(f"quant_type must be 'nf4' or 'fp4', not {quant_type!r}.")
    if compute_dtype not in COMPUTE_DTYPES:
        raise ModelLoadError(f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, not {compute_dtype!r}.")
    _require_bitsandbytes(base_precision)
    import torch
    from transformers import BitsAndBytesConfig

    if base_precision == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True, bnb_4bit_quant_type=quant_type, bnb_4bit_use_double_quant=bool(double_quant),
        bnb_4bit_compute_dtype=getattr(torch, compute_dtype),
    )


def _require_bitsandbytes(base_precision: str) -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as exc:
        raise ModelLoadError(
            f"A {base_precision} base needs the bitsandbytes package (pip install 'bitsandbytes>=0.45'); "
            f"it is not installed ({exc}). Or set base_precision to float32, bfloat16 or float16."
        ) from exc


def load_quantized(folder: str | os.PathLike[str], base_precision: str, *, quant_type: str = "nf4",
                   double_quant: bool = True, compute_dtype: str = "float32", device: str = "cpu",
                   trust_remote_code: bool = False) -> Any:
    """The model in ``folder`` (config.json + safetensors) loaded by transformers with `bnb_config`'s settings,
    in eval mode. Modules that stay in float (embeddings, norms, the output head) are in ``compute_dtype``."""
    import torch
    from transformers import AutoModelForCausalLM

    config = bnb_config(base_precision, quant_type=quant_type, double_quant=double_quant, compute_dtype=compute_dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), quantization_config=config, device_map={"": device}, dtype=getattr(torch, compute_dtype),
            trust_remote_code=trust_remote_code, local_files_only=True, use_safetensors=True,
        )
    except Exception as exc:  # noqa: BLE001 - transformers and bitsandbytes raise many types
        raise ModelLoadError(
            f"Could not load {folder} with a {base_precision} base ({type(exc).__name__}: {exc}). On a machine "
            "without a supported accelerator, bitsandbytes needs version 0.45 or newer for its CPU kernels."
        ) from exc
    return model.eval()


def quantize_loaded(model: Any, base_precision: str, **settings: Any) -> Any:
    """A float model already in memory (e.g. a built-in tiny model) quantized exactly as `load_quantized`
    would: written once to a temporary folder and loaded back through transformers."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="adapter-studio-quantize-") as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        quantized = load_quantized(tmp, base_precision, **settings)
    quantized.name_or_path = model.name_or_path
    quantized.config._name_or_path = model.config._name_or_path
    quantized.generation_config = copy.deepcopy(model.generation_config)
    return quantized


def is_quantized_layer(module: Any) -> bool:
    """True for bitsandbytes' ``Linear4bit`` / ``Linear8bitLt`` (checked by class name: bitsandbytes may be absent)."""
    return any(cls.__name__ in _LAYER_CLASSES for cls in type(module).__mro__)


def is_quantized(model: Any) -> bool:
    """True if any module of ``model`` is a bitsandbytes quantized layer."""
    return any(is_quantized_layer(m) for m in model.modules())


def dequantized_weight(layer: Any) -> torch.Tensor:
    """The float32 ``(out, in)`` weight a quantized layer's forward multiplies with (exact: the same decode)."""
    import torch

    weight = layer.weight
    name = type(layer).__name__
    if name == "Linear4bit" or getattr(weight, "quant_state", None) is not None:
        import bitsandbytes.functional as bnbf

        return bnbf.dequantize_4bit(weight.data, weight.quant_state).float()  # (out, in)
    scales = getattr(weight, "SCB", None)
    if scales is None:
        scales = getattr(getattr(layer, "state", None), "SCB", None)
    if scales is None:
        return weight.data.float()  # an 8-bit layer that still holds its float weight (not yet quantized)
    # LLM.int8(): row i was scaled to [-127, 127] by its absmax SCB[i]
    return weight.data.to(torch.float32) * (scales.float()[:, None] / 127.0)


def dequantized_model(model: Any, dtype: str | torch.dtype = "float32") -> Any:
    """A new float model (``dtype``) of the same class with every quantized layer decoded, and no quantization
    marks (``config.quantization_config``, the quantizer): it saves, merges and trains like any float model.

    Built on the meta device and filled by assignment, so the only new memory is the decoded weights.
    ``model`` may hold adapter wrappers: they are looked through (``x.base_layer.weight`` -> ``x.weight``)
    and not copied.
    """
    import torch

    dtype = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if is_quantized_layer(module):
            state[f"{name}.weight"] = dequantized_weight(module).to(dtype)
            if module.bias is not None:
                state[f"{name}.bias"] = module.bias.detach().to(dtype)
            continue
        for leaf, tensor in [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]:
            key = f"{name}.{leaf}" if name else leaf
            if key not in state and tensor is not None:
                state[key] = tensor.detach().to(dtype) if tensor.is_floating_point() else tensor.detach()
    # Adapter wrappers: keep only the wrapped base layers' tensors, under their plain names.
    plain: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        parts = key.split(".")
        if any(p.startswith(("lora_", "ia3_", "ranknum")) for p in parts):
            continue
        plain[".".join(p for p in parts if p != "base_layer")] = tensor
    with torch.device("meta"):
        clean = type(model)(config)
    clean.load_state_dict(plain, strict=False, assign=True)
    clean.tie_weights()
    left = [n for n, t in [*clean.named_parameters(), *clean.named_buffers()] if t.is_meta]
    if left:
        # non-persistent buffers (rotary inv_freq) are not in a state dict: take them from the source model
        source = dict(model.named_buffers())
        for name in left:
            owner_name, _, attr = name.rpartition(".")
            owner = clean.get_submodule(owner_name)
            match = source.get(name)
            if match is None:
                match = next((t for k, t in source.items() if k.endswith("." + name)), None)
            if match is not None and attr in owner._buffers:
                owner._buffers[attr] = match.detach().clone()
        left = [n for n, t in [*clean.named_parameters(), *clean.named_buffers()] if t.is_meta]
    if left:
        raise ModelLoadError(f"Internal error while decoding a quantized model: no data for {', '.join(left[:5])}.")
    clean.generation_config = copy.deepcopy(model.generation_config)
    clean.name_or_path = getattr(model, "name_or_path", "")
    return clean.eval()


def refuse_merge(what: str, module_name: str = "") -> None:
    """Raise the error for merging into a quantized layer (LoRA, AdaLoRA and (IA)³ call it)."""
    from core.errors import ConfigError

    where = f" ({module_name})" if module_name else ""
    raise ConfigError(
        f"Cannot merge {what} into a quantized (8-bit / 4-bit) layer{where}: the weights would be re-quantized "
        "and lose the update. Export the merged model instead (it decodes the base to float first), or load the "
        "base in float32, bfloat16 or float16."
    )



def load_base(ref: str | os.PathLike[str], *, base_precision: str = "float32", quant_type: str = "nf4",
              double_quant: bool = True, compute_dtype: str = "float32", device: str = "auto") -> tuple[Any, Any]:
    """(model, tokenizer) of a model reference with its base held in ``base_precision`` (the Training tab's
    settings, `core.args.TrainingArguments`). A float precision is `core.models.load_model`'s ``dtype``; 8-bit
    and 4-bit load the reference's Hugging Face folder through transformers with `bnb_config` (a built-in tiny
    model or a .gguf file, which have no such folder, is written to a temporary one first)."""
    from core import models

    if base_precision not in QUANTIZED:
        if base_precision not in BASE_PRECISIONS:
            raise ModelLoadError(f"base_precision must be one of {', '.join(BASE_PRECISIONS)}, not {base_precision!r}.")
        return models.load_model(ref, dtype=base_precision)
    settings = {"quant_type": quant_type, "double_quant": double_quant, "compute_dtype": compute_dtype,
                "device": _quantized_device(device)}
    bnb_config(base_precision, quant_type=quant_type, double_quant=double_quant, compute_dtype=compute_dtype)
    kind, target = models._classify(ref)
    hub_id = None
    if kind == "builtin" and target == models._SMOLLM2:
        folder, hub_id = models._smollm2_folder(), models.SMOLLM2_HUB_ID
    elif kind == "folder":
        folder = Path(target)
    elif kind == "hub":
        folder, hub_id = models._cached_snapshot(str(target)), str(target)
    else:  # tiny built-ins, .gguf files: no Hugging Face folder on disk; quantize the float load
        model, tokenizer = models.load_model(ref)
        return quantize_loaded(model, base_precision, **settings), tokenizer
    models.check_folder(folder)
    model = load_quantized(folder, base_precision, **settings)
    _, tokenizer = _tokenizer(folder)
    if hub_id:
        models._known_as(model, hub_id)
    return model, tokenizer


def _tokenizer(folder: Path) -> tuple[None, Any]:
    from transformers import AutoTokenizer

    try:
        return None, AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"The model in {folder} loaded, but its tokenizer did not ({type(exc).__name__}: {exc}).") from exc


def _quantized_device(device: str) -> str:
    """Where the quantized weights go: quantization happens as they are placed, so this is the training device
    ('auto': the first GPU when there is one, else the CPU; under a launcher, this process's GPU)."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def weight_bytes(model: Any, base_precision: str, *, double_quant: bool = True, float_width: int = 4) -> tuple[int, int]:
    """(bytes of the base's weights held in ``base_precision``, elements of its largest quantized weight) for a
    (meta) float model, counting what bitsandbytes allocates: every ``nn.Linear`` weight but the output head's
    quantized, the rest (embeddings, norms, biases, the head) in the float width.

    4-bit: half a byte per weight, plus per block of 64 a float32 scale, or with double quantization an 8-bit
    one and a float32 per 256 blocks (and a 256-entry float32 code table per layer). 8-bit: a byte per weight
    plus a float32 scale per output row. The largest quantized weight is decoded to float once per forward and
    backward of its layer: the estimate's workspace counts it."""
    from torch import nn

    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    total, largest, seen = 0, 0, set()
    for module in model.modules():
        for leaf, p in module.named_parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            n = p.numel()
            if isinstance(module, nn.Linear) and module is not head and leaf == "weight":
                largest = max(largest, n)
                if base_precision == "4bit":
                    blocks = -(-n // 64)
                    scales = blocks + 4 * -(-blocks // 256) + 4 * 256 + 4 if double_quant else 4 * blocks
                    total += -(-n // 2) + scales
                else:
                    total += n + 4 * p.shape[0]
            else:
                total += n * float_width
    return total, largest
