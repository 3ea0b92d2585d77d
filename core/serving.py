"""Which servers will load an adapter, and why not: llama.cpp (and Ollama, LM Studio, which run llama.cpp's
LoRA GGUF), vLLM, TGI and LoRAX.

Read from the adapter folder alone (``adapter_config.json`` and the safetensors header: tensor names and
shapes), so it needs neither torch nor the base model: `check_folder`. Each `Verdict` says whether the
server loads the adapter as exported and, if not, what is in the way and what to do instead.

What each server accepts (from their documented loaders):

- **llama.cpp / Ollama / LM Studio**: a LoRA adapter GGUF (``adapter-studio export --gguf-adapter``):
  A/B pairs on linear layers of an architecture GGUF export maps (`core.gguf_arch`), one alpha per file
  (rsLoRA and per-module rank/alpha are baked into the tensors by the export). Not: DoRA magnitudes,
  ``modules_to_save`` copies, trained biases, PiSSA residual bases, embedding LoRA; non-LoRA methods.
- **vLLM** (``--enable-lora``): PEFT LoRA folders without DoRA and without ``modules_to_save``, no
  trained biases, every rank at most ``--max-lora-rank`` (one of `VLLM_MAX_LORA_RANKS`; the default 16),
  targets that are linear layers of the decoder blocks (not the embedding or the output head).
- **TGI / LoRAX** (one loader, TGI's is LoRAX's): LoRA only; one ``lora_alpha / r`` (rsLoRA honoured) for
  every module, so ``rank_pattern`` / ``alpha_pattern`` or ranks that differ between modules are scaled
  wrongly; only ``lora_A`` / ``lora_B`` are read (DoRA, ``modules_to_save``, biases would be left out).

`serving_compatible` writes a copy of a LoRA adapter with one rank and ``lora_alpha == r``: rsLoRA and
per-module rank/alpha baked into the tensors, for servers that apply one ``alpha / r`` to every module.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VLLM_MAX_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
VLLM_DEFAULT_MAX_LORA_RANK = 16
_EDGE_MODULES = ("embed_tokens", "wte", "word_embeddings", "lm_head", "embed_out", "wpe")


@dataclass
class Verdict:
    server: str
    ok: bool
    reasons: list[str] = field(default_factory=list)
    how: str = ""
    """How to serve it (the export or flag to use)."""

    def line(self) -> str:
        if self.ok:
            return f"{self.server}: yes — {self.how}"
        return f"{self.server}: no — " + " ".join(self.reasons)


@dataclass
class AdapterFacts:
    """What the checks read from an adapter folder."""

    peft_type: str
    config: dict[str, Any]
    ranks: dict[str, int]
    """module path -> rank (from lora_A's rows)."""
    magnitudes: bool = False
    saved_modules: list[str] = field(default_factory=list)
    biases: bool = False
    embedding_lora: list[str] = field(default_factory=list)


def _safetensors_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def read_facts(folder: str | os.PathLike[str]) -> AdapterFacts:
    """The adapter's method, config and per-module ranks, from ``adapter_config.json`` and the safetensors header."""
    folder = Path(folder)
    config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    header: dict[str, Any] = {}
    weights = folder / "adapter_model.safetensors"
    if weights.is_file():
        header = {k: v for k, v in _safetensors_header(weights).items() if k != "__metadata__"}
    facts = AdapterFacts(str(config.get("peft_type", "")).upper(), config, {})
    for key, info in header.items():
        m = re.match(r"(?:base_model\.model\.)?(?P<path>.+)\.lora_A(?:\.[^.]+)?\.weight$", key)
        if m:
            facts.ranks[m["path"]] = int(info["shape"][0])
        m = re.match(r"(?:base_model\.model\.)?(?P<path>.+)\.lora_embedding_A(?:\.[^.]+)?$", key)
        if m:
            facts.embedding_lora.append(m["path"])
            facts.ranks[m["path"]] = int(info["shape"][0])
        facts.magnitudes |= ".lora_magnitude_vector" in key
        if ".modules_to_save." in key:
            facts.saved_modules.append(key.split(".modules_to_save.")[0].removeprefix("base_model.model."))
        facts.biases |= key.endswith(".bias") and ".modules_to_save." not in key
    facts.saved_modules = sorted(set(facts.saved_modules)) or list(config.get("modules_to_save") or [])
    return facts


def _beyond_lora_pairs(f: AdapterFacts, *, dora: str, saved: str, bias: str) -> list[str]:
    """What in a LoRA adapter is more than A/B pairs (DoRA magnitudes, ``modules_to_save`` copies, trained
    biases), each in the server's own words; ``saved`` gets the module names at ``{}``."""
    why: list[str] = []
    if f.config.get("use_dora") or f.magnitudes:
        why.append(dora)
    if f.saved_modules:
        why.append(saved.format(", ".join(f.saved_modules)))
    if f.config.get("bias", "none") != "none" or f.biases:
        why.append(bias)
    return why


def _llama_cpp(f: AdapterFacts, model_type: str | None) -> Verdict:
    server = "llama.cpp / Ollama / LM Studio"
    if f.peft_type != "LORA":
        return Verdict(server, False, [f"they load LoRA adapters only; this is {f.peft_type}. Export a merged GGUF "
                                       "(--gguf) where the method merges."])
    why = _beyond_lora_pairs(f, dora="DoRA's learned magnitudes have no place in a llama.cpp LoRA GGUF.",
                             saved="modules_to_save ({}) are full copies, not A/B pairs.",
                             bias="trained biases are not A/B pairs.")
    init = f.config.get("init_lora_weights")
    if isinstance(init, str) and init.startswith("pissa"):
        why.append("a PiSSA adapter needs its residual base, not the original base GGUF.")
    if f.embedding_lora:
        why.append(f"LoRA on the embedding ({', '.join(f.embedding_lora)}) is not written by the GGUF adapter export.")
    if model_type is not None:
        from core.gguf_arch import PLANS

        if model_type not in PLANS:
            why.append(f"GGUF export does not map the {model_type} architecture.")
    if why:
        return Verdict(server, False, why + ["Export a merged GGUF (--gguf) instead."])
    notes = []
    if f.config.get("use_rslora") or f.config.get("rank_pattern") or f.config.get("alpha_pattern"):
        notes.append("rsLoRA / per-module rank and alpha are baked into lora_b")
    return Verdict(server, True, [], "export a LoRA GGUF (--gguf-adapter) and load it on the base GGUF"
                   + (f" ({'; '.join(notes)})" if notes else ""))


def _vllm(f: AdapterFacts) -> Verdict:
    server = "vLLM"
    if f.peft_type != "LORA":
        return Verdict(server, False, [f"vLLM serves LoRA adapters only; this is {f.peft_type}. Serve the merged model "
                                       "(--merged) instead."])
    why = _beyond_lora_pairs(f, dora="vLLM rejects DoRA adapters.", saved="vLLM rejects modules_to_save ({}).",
                             bias="vLLM does not load trained LoRA biases.")
    edge = sorted({p for p in [*f.ranks, *f.embedding_lora] if p.rsplit(".", 1)[-1] in _EDGE_MODULES})
    if edge:
        why.append(f"vLLM applies LoRA to the decoder blocks' linear layers, not to {', '.join(edge)}.")
    rank = max(f.ranks.values(), default=int(f.config.get("r") or 0))
    flag = next((c for c in VLLM_MAX_LORA_RANKS if c >= rank), None)
    if flag is None:
        why.append(f"its rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_MAX_LORA_RANKS[-1]}).")
    if why:
        return Verdict(server, False, why + ["Serve the merged model (--merged) instead."])
    how = "vllm serve BASE --enable-lora --lora-modules NAME=ADAPTER_FOLDER"
    if flag > VLLM_DEFAULT_MAX_LORA_RANK:
        how += f" --max-lora-rank {flag} (rank {rank} is above the default {VLLM_DEFAULT_MAX_LORA_RANK})"
    return Verdict(server, True, [], how)


def _tgi(f: AdapterFacts) -> Verdict:
    """TGI and LoRAX share one LoRA loader: it reads ``r``, ``lora_alpha`` and ``use_rslora`` from the config,
    multiplies every module's ``lora_B`` by that one scale, stacks each module type's A and B over the layers
    (one shape per type), and takes only ``lora_A`` / ``lora_B`` tensors from the file."""
    server = "TGI / LoRAX"
    if f.peft_type != "LORA":
        return Verdict(server, False, [f"they serve LoRA adapters only; this is {f.peft_type}. Serve the merged model "
                                       "(--merged) instead."])
    drop = "they read only lora_A / lora_B, so {} would be left out and the answers would differ."
    why = _beyond_lora_pairs(f, dora=drop.format("DoRA's magnitudes"), saved=drop.format("modules_to_save ({})"),
                             bias=drop.format("trained biases"))
    if why:
        return Verdict(server, False, why + ["Serve the merged model (--merged) instead."])
    patterns = [k for k in ("rank_pattern", "alpha_pattern") if f.config.get(k)]
    if patterns or len(set(f.ranks.values())) > 1:
        what = " / ".join(patterns) or "ranks that differ between modules"
        return Verdict(server, False, [
            f"they apply one lora_alpha / r to every module, so this adapter's {what} would be scaled wrongly. "
            "A serving-compatible copy (core.serving.serving_compatible: one rank, each module's scale baked into "
            "lora_B) computes the same; serve that."])
    return Verdict(server, True, [], "load the adapter folder as an adapter (TGI: --lora-adapters NAME=ADAPTER_FOLDER; "
                   "LoRAX: adapter_id in the request)")


def check_folder(folder: str | os.PathLike[str], *, model_type: str | None = None) -> list[Verdict]:
    """The verdict of each server on the adapter in ``folder`` (a PEFT adapter folder)."""
    facts = read_facts(folder)
    return [_llama_cpp(facts, model_type), _vllm(facts), _tgi(facts)]


# --------------------------------------------------------------------------------------------------
# A serving-compatible copy


def _module_scale(path: str, rank: int, config: dict[str, Any]) -> float:
    """The scale PEFT applies to module ``path`` of rank ``rank`` (read from its ``lora_A``): ``alpha_m / r``
    (``alpha_m / sqrt(r)`` with rsLoRA), ``alpha_m`` from the first ``alpha_pattern`` key matching the
    module (PEFT's rule, `core.methods.lora._pattern_value`), else ``lora_alpha``."""
    from core.methods.lora import _pattern_value

    alpha = float(_pattern_value(config.get("alpha_pattern") or {}, path, config.get("lora_alpha") or rank))
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def serving_compatible(folder: str | os.PathLike[str], dest: str | os.PathLike[str], *, name: str | None = None) -> Path:
    """Write a copy of the LoRA adapter in ``folder`` that a server applying one ``lora_alpha / r`` to every
    module computes exactly as PEFT computes the original: one rank ``R`` (the largest), ``lora_alpha = R``
    (scale 1), no rsLoRA, no rank/alpha patterns. Per module ``ΔW = s_m B A`` with ``A (r_m, in)``,
    ``B (out, r_m)``; the copy stores ``A' (R, in)`` = A over ``R - r_m`` zero rows and ``B' (out, R)`` =
    ``s_m B`` beside ``R - r_m`` zero columns, so ``1 · B' A' = s_m B A`` (the zero rank directions add
    nothing). Refused (`ValueError` with the reasons) for what has no such form: DoRA, ``modules_to_save``,
    trained biases, non-LoRA methods; the messages start with ``name`` (default: the folder). Returns ``dest``."""
    import torch
    from safetensors.torch import load_file, save_file

    folder, dest = Path(folder), Path(dest)
    name = name or str(folder)
    facts = read_facts(folder)
    if facts.peft_type != "LORA":
        raise ValueError(f"{name}: a serving-compatible copy is made of LoRA adapters only; this is {facts.peft_type}.")
    why = _beyond_lora_pairs(facts, dora="DoRA's learned magnitudes are not A/B pairs.",
                             saved="modules_to_save ({}) are full copies, not A/B pairs.",
                             bias="trained biases are not A/B pairs.")
    if why:
        raise ValueError(f"{name}: no serving-compatible copy of this adapter exists: " + " ".join(why)
                         + " Serve the merged model instead.")
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"{dest} already exists and is not empty; choose a new folder.")
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    top = max(facts.ranks.values())
    out: dict[str, torch.Tensor] = {}
    for key, a in tensors.items():
        m = re.match(r"(?P<mod>.+)\.lora_(?P<emb>embedding_)?A(?P<tail>(?:\.[^.]+)?(?:\.weight)?)$", key)
        if not m:
            continue  # lora_B is written with its A
        b_key = f"{m['mod']}.lora_{m['emb'] or ''}B{m['tail']}"
        b = tensors[b_key]
        rank = a.shape[0]  # A (r, in); B (out, r)
        scale = _module_scale(m["mod"].removeprefix("base_model.model."), rank, facts.config)
        a_new = torch.zeros((top, *a.shape[1:]), dtype=a.dtype)
        a_new[:rank] = a
        b_new = torch.zeros((b.shape[0], top), dtype=b.dtype)
        b_new[:, :rank] = (b.float() * scale).to(b.dtype)
        out[key], out[b_key] = a_new.contiguous(), b_new.contiguous()
    config = {k: v for k, v in facts.config.items() if k not in ("rank_pattern", "alpha_pattern")}
    config.update(r=top, lora_alpha=top, use_rslora=False, rank_pattern={}, alpha_pattern={})
    dest.mkdir(parents=True, exist_ok=True)
    save_file(out, str(dest / "adapter_model.safetensors"), metadata={"format": "pt"})
    (dest / "adapter_config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    return dest
