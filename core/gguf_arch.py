"""How a Hugging Face causal LM maps onto llama.cpp's GGUF: the architecture name, its hyperparameter
keys, and each weight's GGUF name with the reshuffle llama.cpp's kernels expect.

One `Plan` per architecture, built from the model's ``config`` alone (no weights): `plan_for(config)`.
`Plan.map(hf_name)` says where one Hugging Face tensor goes (`Target`) or that it is dropped (buffers,
tied copies). The same `Target` serves a merged model (the full weight) and a LoRA adapter (only the
rows of ``lora_B`` are reshuffled: ``ΔW = B A`` and every reshuffle here permutes ``W``'s output rows,
so permuting ``B``'s rows permutes ``ΔW``'s).

The reshuffles, all on the output dimension (rows of a ``(out, in)`` weight, or a bias ``(out,)``):

- **llama / mistral q and k**: Hugging Face stores each head's rotary pairs split in halves
  (``rotate_half``: dims ``i`` and ``i + d/2`` rotate together); llama.cpp's llama rope rotates
  adjacent pairs (``2i``, ``2i+1``). Rows of head ``h`` go from ``[h, half, i]`` to ``[h, i, half]``:
  ``W.reshape(n_head, 2, d/2, -1).transpose(1, 2)``. Qwen2/3, Gemma and Phi-3 use the "neox" rope
  (halves, like Hugging Face): no reshuffle.
- **BLOOM's fused qkv**: Hugging Face interleaves per head ``[h, (q|k|v), d]``; llama.cpp wants all q
  rows, then all k, then all v: ``W.reshape(n_head, 3, d, -1).transpose(0, 1)``.
- **GPT-2's Conv1D** stores ``(in, out)``; GGUF wants ``(out, in)``: transposed first.
- **Gemma's norms** multiply by ``1 + w``; llama.cpp multiplies by the stored weight: ``w + 1`` is stored.

Everything here is derived from the GGUF format's published key and tensor names; the architectures
llama.cpp does not run (or that we have not checked against it) are refused with `GgufUnsupported`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import ExportError


# The tensor types a GGUF export writes (here: the window and the command line offer them without torch).
FLOAT_TYPES = ("f32", "f16", "bf16", "q8_0")
K_QUANTS = ("Q4_K_M", "Q5_K_M", "Q6_K")  # through llama.cpp's own quantizer
GGUF_TYPES = FLOAT_TYPES + K_QUANTS
ADAPTER_TYPES = ("f32", "f16")


class GgufUnsupported(ExportError):
    """The model (architecture, rope scaling, tokenizer) has no faithful GGUF form here."""


RowOp = Callable[[Any], Any]  # torch.Tensor (out, ...) -> torch.Tensor (out, ...)


@dataclass(frozen=True)
class Target:
    """Where one Hugging Face tensor goes in the GGUF file."""

    name: str
    """GGUF tensor name, e.g. ``blk.3.attn_q.weight``."""
    conv1d: bool = False
    """Stored ``(in, out)`` (GPT-2's Conv1D): transpose before anything else."""
    rows: RowOp | None = None
    """Reshuffle of the output rows (see the module docstring)."""
    add_one: bool = False
    """Gemma norm: store ``w + 1``."""

    def full(self, tensor: Any) -> Any:
        """The whole weight (or bias) as GGUF stores it, float32."""
        t = tensor.float()
        if self.conv1d and t.dim() == 2:
            t = t.T
        if self.rows is not None:
            t = self.rows(t)
        if self.add_one:
            t = t + 1.0
        return t.contiguous()



@dataclass
class Plan:
    """One model's GGUF mapping."""

    arch: str
    """GGUF ``general.architecture`` (``llama``, ``qwen2``, ...)."""
    hparams: dict[str, Any]
    """Architecture keys without the ``<arch>.`` prefix -> value (int, float, bool or str)."""
    rules: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Target | None]]] = field(default_factory=list)
    tied: bool = False
    """``lm_head`` shares the embedding: ``output.weight`` is not written (llama.cpp reuses ``token_embd``)."""
    skip: tuple[str, ...] = ()
    """Hugging Face names that are not weights llama.cpp reads (buffers, rotary tables)."""
    extra: dict[str, list[float]] = field(default_factory=dict)
    """Tensors the model has no weight for but llama.cpp reads (``rope_freqs.weight``): GGUF name -> float32 values."""

    def map(self, hf_name: str) -> Target | None:
        """The GGUF target of Hugging Face tensor ``hf_name``; None for a tensor llama.cpp does not read.
        Raises `GgufUnsupported` for a tensor this mapping does not know (a half-written model is worse)."""
        if any(re.search(s, hf_name) for s in self.skip):
            return None
        for pattern, make in self.rules:
            m = pattern.fullmatch(hf_name)
            if m:
                return make(m)
        raise GgufUnsupported(
            f"The {self.arch} GGUF mapping does not know the tensor {hf_name}; this model has parts llama.cpp's "
            f"{self.arch} does not have, so it cannot be written as GGUF."
        )


def _rope_params(config: Any) -> dict[str, Any]:
    """rope settings as one dict: transformers 5 keeps them in ``rope_parameters``, 4.x in
    ``rope_scaling`` + ``rope_theta``."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    params = params.get("full_attention", params) if isinstance(params.get("full_attention"), dict) else params
    scaling = getattr(config, "rope_scaling", None) or {}
    merged = {**scaling, **params}
    if "rope_theta" not in merged and getattr(config, "rope_theta", None) is not None:
        merged["rope_theta"] = config.rope_theta
    return merged


def _rope_keys(config: Any, model: str, *, freq_factors: bool = False) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """The rope keys of ``config`` and the tensors they need (``rope_freqs.weight`` for "llama3").

    What llama.cpp can express, and how (its rope: angle ``pos · base^(-2i/d) · freq_scale / f_i``):

    - "linear" (positions divided by ``factor``): ``rope.scaling.type linear`` and ``rope.scaling.factor``.
    - "llama3" (per-frequency: long wavelengths divided by ``factor``, short ones kept, a smooth ramp between):
      no scaling key; a ``rope_freqs.weight`` tensor ``(d/2,)`` of per-frequency divisors ``f_i`` =
      Hugging Face's unscaled inverse frequency over its scaled one. Only llama.cpp's llama reads it, so
      ``freq_factors`` says whether this architecture can.
    - "yarn": ``rope.scaling.type yarn``, ``factor`` and ``original_context_length``; llama.cpp then blends
      interpolation and extrapolation between the correction dims of beta_fast 32 / beta_slow 1 and scales
      attention by ``0.1 ln(factor) + 1``, the defaults of Hugging Face's YaRN. Other betas, an explicit
      ``attention_factor`` or ``mscale`` / ``mscale_all_dim`` (DeepSeek's variant) are refused: llama.cpp's
      llama reads none of them from the file.
    - anything else ("dynamic" rescales by the current length, "longrope" switches factor sets) is refused.
    """
    rope = _rope_params(config)
    out: dict[str, Any] = {}
    if rope.get("rope_theta") is not None:
        out["rope.freq_base"] = float(rope["rope_theta"])
    kind = rope.get("rope_type") or rope.get("type") or "default"
    if kind == "default":
        return out, {}
    if kind == "linear" and rope.get("factor"):
        out["rope.scaling.type"] = "linear"
        out["rope.scaling.factor"] = float(rope["factor"])
        return out, {}
    if kind == "llama3" and freq_factors:
        return out, {"rope_freqs.weight": _llama3_divisors(config, rope)}
    if kind == "yarn" and rope.get("factor"):
        odd = {k: rope[k] for k in ("attention_factor", "mscale", "mscale_all_dim") if rope.get(k) not in (None, 0)}
        odd |= {k: rope[k] for k, default in (("beta_fast", 32), ("beta_slow", 1)) if rope.get(k) not in (None, default)}
        if rope.get("truncate") is False:
            odd["truncate"] = False
        if odd:
            raise GgufUnsupported(
                f"This {model} model's YaRN rope scaling sets {', '.join(f'{k}={v}' for k, v in odd.items())}; llama.cpp's "
                f"{model} applies YaRN with beta_fast 32, beta_slow 1 and the attention factor 0.1·ln(factor)+1 only, so "
                "the GGUF would answer differently. Export the merged Hugging Face folder instead.")
        out["rope.scaling.type"] = "yarn"
        out["rope.scaling.factor"] = float(rope["factor"])
        orig = rope.get("original_max_position_embeddings") or getattr(config, "original_max_position_embeddings", None)
        out["rope.scaling.original_context_length"] = int(orig or config.max_position_embeddings)
        return out, {}
    where = f" (llama.cpp reads per-frequency factors only for llama and mistral, not {model})" if kind == "llama3" else ""
    raise GgufUnsupported(
        f"This {model} model uses rope scaling {kind!r}{where}; the GGUF export writes plain, linear, llama3 and YaRN "
        "rope scaling only (it would otherwise answer differently in llama.cpp). Export the merged Hugging Face folder "
        "instead.")


def _llama3_divisors(config: Any, rope: dict[str, Any]) -> list[float]:
    """Llama 3.1's rope scaling as per-frequency divisors ``f_i`` (``d/2`` floats, ``d`` the rotated head size):
    wavelength ``λ_i = 2π / inv_freq_i``; ``λ_i < orig/high``: 1 (kept); ``λ_i > orig/low``: ``factor``;
    between: ``1 / ((1 - s)/factor + s)`` with ``s = (orig/λ_i - low) / (high - low)``."""
    import math

    factor, low, high = float(rope["factor"]), float(rope["low_freq_factor"]), float(rope["high_freq_factor"])
    orig = float(rope["original_max_position_embeddings"])
    base = float(rope.get("rope_theta") or 10000.0)
    dim = int(_head_dim(config) * float(rope.get("partial_rotary_factor") or 1.0))
    out = []
    for i in range(0, dim, 2):
        wavelen = 2 * math.pi * base ** (i / dim)
        if wavelen < orig / high:
            out.append(1.0)
        elif wavelen > orig / low:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return out


def _head_dim(config: Any) -> int:
    return int(getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads)


def _pair_rows(n_head: int) -> RowOp:
    """llama rope: rows ``[h, half, i]`` -> ``[h, i, half]`` (see the module docstring)."""

    def op(t: Any) -> Any:
        rest = t.shape[1:]
        return t.reshape(n_head, 2, t.shape[0] // n_head // 2, *rest).transpose(1, 2).reshape(t.shape)

    return op


def _qkv_rows(n_head: int) -> RowOp:
    """BLOOM: rows ``[h, (q|k|v), d]`` -> ``[(q|k|v), h, d]``."""

    def op(t: Any) -> Any:
        rest = t.shape[1:]
        return t.reshape(n_head, 3, t.shape[0] // n_head // 3, *rest).transpose(0, 1).reshape(t.shape)

    return op


def _rule(pattern: str, make: Callable[[re.Match[str]], Target | None]) -> tuple[re.Pattern[str], Callable]:
    return re.compile(pattern), make


def _blk(m: re.Match[str], what: str, **kw: Any) -> Target:
    return Target(f"blk.{m['n']}.{what}.{m['p']}", **kw)


def _decoder_rules(config: Any, *, permute_qk: bool, norm_plus_one: bool = False) -> list:
    """Llama-family decoder (``model.layers.N.self_attn.q_proj`` ...): llama, mistral, qwen2, qwen3, gemma2/3."""
    L = r"model\.layers\.(?P<n>\d+)\."
    P = r"\.(?P<p>weight|bias)"
    heads, kv = config.num_attention_heads, getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    q_rows = _pair_rows(heads) if permute_qk else None
    k_rows = _pair_rows(kv) if permute_qk else None
    one = norm_plus_one
    return [
        _rule(r"model\.embed_tokens\.weight", lambda m: Target("token_embd.weight")),
        _rule(r"model\.norm\.weight", lambda m: Target("output_norm.weight", add_one=one)),
        _rule(r"lm_head\.weight", lambda m: Target("output.weight")),
        _rule(L + r"input_layernorm" + P, lambda m: _blk(m, "attn_norm", add_one=one)),
        _rule(L + r"self_attn\.q_proj" + P, lambda m: _blk(m, "attn_q", rows=q_rows)),
        _rule(L + r"self_attn\.k_proj" + P, lambda m: _blk(m, "attn_k", rows=k_rows)),
        _rule(L + r"self_attn\.v_proj" + P, lambda m: _blk(m, "attn_v")),
        _rule(L + r"self_attn\.o_proj" + P, lambda m: _blk(m, "attn_output")),
        _rule(L + r"self_attn\.q_norm" + P, lambda m: _blk(m, "attn_q_norm", add_one=one)),
        _rule(L + r"self_attn\.k_norm" + P, lambda m: _blk(m, "attn_k_norm", add_one=one)),
        _rule(L + r"post_attention_layernorm" + P, lambda m: _blk(m, "ffn_norm", add_one=one)),
        _rule(L + r"mlp\.gate_proj" + P, lambda m: _blk(m, "ffn_gate")),
        _rule(L + r"mlp\.up_proj" + P, lambda m: _blk(m, "ffn_up")),
        _rule(L + r"mlp\.down_proj" + P, lambda m: _blk(m, "ffn_down")),
    ]


def _common(config: Any) -> dict[str, Any]:
    keys = {
        "context_length": int(config.max_position_embeddings),
        "embedding_length": int(config.hidden_size),
        "block_count": int(config.num_hidden_layers),
        "feed_forward_length": int(config.intermediate_size),
        "attention.head_count": int(config.num_attention_heads),
        "attention.head_count_kv": int(getattr(config, "num_key_value_heads", None) or config.num_attention_heads),
        "vocab_size": int(config.vocab_size),
    }
    if getattr(config, "rms_norm_eps", None) is not None:
        keys["attention.layer_norm_rms_epsilon"] = float(config.rms_norm_eps)
    head_dim = _head_dim(config)
    if head_dim != config.hidden_size // config.num_attention_heads or getattr(config, "head_dim", None):
        keys["attention.key_length"] = head_dim
        keys["attention.value_length"] = head_dim
    return keys


def _check_act(config: Any, allowed: tuple[str, ...], model: str) -> None:
    act = getattr(config, "hidden_act", None) or getattr(config, "hidden_activation", None) or getattr(config, "activation_function", None)
    if act is not None and act not in allowed:
        raise GgufUnsupported(
            f"This {model} model uses the activation {act!r}; llama.cpp's {model} runs {' / '.join(allowed)}, so "
            "the GGUF would answer differently. Export the merged Hugging Face folder instead."
        )


def _llama(config: Any) -> Plan:
    _check_act(config, ("silu",), "llama")
    if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
        pass  # llama.cpp's llama reads optional q/k/v/o and ffn biases
    rope, extra = _rope_keys(config, "llama", freq_factors=True)
    hp = _common(config) | rope
    hp["rope.dimension_count"] = _head_dim(config)
    return Plan("llama", hp, _decoder_rules(config, permute_qk=True), tied=bool(config.tie_word_embeddings),
                skip=(r"rotary_emb\.",), extra=extra)


def _mistral(config: Any) -> Plan:
    # llama.cpp runs Mistral (v0.2+, no sliding window in practice) as llama; a sliding window it cannot honour.
    if getattr(config, "sliding_window", None) and config.sliding_window < config.max_position_embeddings:
        raise GgufUnsupported(
            f"This Mistral model attends within a sliding window of {config.sliding_window} tokens; llama.cpp runs "
            "Mistral as llama with full attention, which answers differently on longer inputs. Export the merged "
            "Hugging Face folder instead."
        )
    return _llama(config)


def _qwen(config: Any, arch: str) -> Plan:
    _check_act(config, ("silu",), arch)
    hp = _common(config) | _rope_keys(config, arch)[0]
    hp["rope.dimension_count"] = _head_dim(config)
    return Plan(arch, hp, _decoder_rules(config, permute_qk=False), tied=bool(config.tie_word_embeddings),
                skip=(r"rotary_emb\.",))


def _gemma2(config: Any) -> Plan:
    _check_act(config, ("gelu_pytorch_tanh",), "gemma2")
    hp = _common(config) | _rope_keys(config, "gemma2")[0]
    hp["attention.key_length"] = hp["attention.value_length"] = _head_dim(config)
    hp["attn_logit_softcapping"] = float(config.attn_logit_softcapping or 0.0)
    hp["final_logit_softcapping"] = float(config.final_logit_softcapping or 0.0)
    hp["attention.sliding_window"] = int(config.sliding_window)
    if config.query_pre_attn_scalar != _head_dim(config):
        raise GgufUnsupported("This Gemma 2 model scales attention by query_pre_attn_scalar other than its head size; "
                              "llama.cpp's gemma2 does not.")
    return Plan("gemma2", hp, _gemma_rules(config), tied=bool(config.tie_word_embeddings), skip=(r"rotary_emb\.",))


def _gemma_rules(config: Any) -> list:
    """Gemma 2 / 3 decoder: four norms per block, each ``1 + w`` (q/k norms too, in Gemma 3)."""
    L = r"model\.layers\.(?P<n>\d+)\."
    P = r"\.(?P<p>weight|bias)"
    # first: Gemma's post_attention_layernorm is a norm after attention, not llama's norm before the MLP
    return [
        _rule(L + r"post_attention_layernorm" + P, lambda m: _blk(m, "post_attention_norm", add_one=True)),
        _rule(L + r"pre_feedforward_layernorm" + P, lambda m: _blk(m, "ffn_norm", add_one=True)),
        _rule(L + r"post_feedforward_layernorm" + P, lambda m: _blk(m, "post_ffw_norm", add_one=True)),
    ] + _decoder_rules(config, permute_qk=False, norm_plus_one=True)


def _gemma3(config: Any) -> Plan:
    """Gemma 3, text only (``Gemma3ForCausalLM``, model_type ``gemma3_text``). Sliding-window layers rotate with
    their own base (``rope.freq_base_swa``) and no scaling; full-attention layers with ``rope_theta`` and the
    model's scaling. Which layers slide is written per layer (``attention.sliding_window_pattern``, one bool
    each), not left to llama.cpp's default of every sixth layer global."""
    _check_act(config, ("gelu_pytorch_tanh",), "gemma3")
    if getattr(config, "attn_logit_softcapping", None):
        raise GgufUnsupported("This Gemma 3 model caps attention logits (attn_logit_softcapping); llama.cpp's gemma3 "
                              "does not, so the GGUF would answer differently. Export the merged Hugging Face folder instead.")
    if config.query_pre_attn_scalar != _head_dim(config):
        raise GgufUnsupported(f"This Gemma 3 model scales attention by query_pre_attn_scalar={config.query_pre_attn_scalar} "
                              f"rather than its head size {_head_dim(config)}; llama.cpp's gemma3 uses the head size.")
    hp = _common(config) | _rope_keys(config, "gemma3")[0]
    hp["attention.key_length"] = hp["attention.value_length"] = _head_dim(config)
    if getattr(config, "final_logit_softcapping", None):
        hp["final_logit_softcapping"] = float(config.final_logit_softcapping)
    params = getattr(config, "rope_parameters", None) or {}
    local = params.get("sliding_attention") if isinstance(params.get("sliding_attention"), dict) else {}
    if (local.get("rope_type") or "default") != "default":
        raise GgufUnsupported(f"This Gemma 3 model scales the rope of its sliding-window layers ({local['rope_type']!r}); "
                              "llama.cpp's gemma3 scales only the full-attention layers.")
    local_base = local.get("rope_theta") or getattr(config, "rope_local_base_freq", None) or 10000.0
    layer_types = list(getattr(config, "layer_types", None) or [])
    if getattr(config, "sliding_window", None) and "sliding_attention" in layer_types:
        hp["attention.sliding_window"] = int(config.sliding_window)
        hp["attention.sliding_window_pattern"] = [t == "sliding_attention" for t in layer_types]  # (n_layer,)
        hp["rope.freq_base_swa"] = float(local_base)
    return Plan("gemma3", hp, _gemma_rules(config), tied=bool(config.tie_word_embeddings), skip=(r"rotary_emb\.",))


def _gpt2(config: Any) -> Plan:
    _check_act(config, ("gelu_new", "gelu_pytorch_tanh", "gelu"), "gpt2")
    hp = {
        "context_length": int(config.n_positions),
        "embedding_length": int(config.n_embd),
        "block_count": int(config.n_layer),
        "feed_forward_length": int(config.n_inner or 4 * config.n_embd),
        "attention.head_count": int(config.n_head),
        "attention.layer_norm_epsilon": float(config.layer_norm_epsilon),
        "vocab_size": int(config.vocab_size),
    }
    if getattr(config, "scale_attn_by_inverse_layer_idx", False) or getattr(config, "reorder_and_upcast_attn", False):
        raise GgufUnsupported("This GPT-2 model scales attention per layer; llama.cpp's gpt2 does not.")
    L = r"transformer\.h\.(?P<n>\d+)\."
    P = r"\.(?P<p>weight|bias)"
    rules = [
        _rule(r"transformer\.wte\.weight", lambda m: Target("token_embd.weight")),
        _rule(r"transformer\.wpe\.weight", lambda m: Target("position_embd.weight")),
        _rule(r"transformer\.ln_f\.(?P<p>weight|bias)", lambda m: Target(f"output_norm.{m['p']}")),
        _rule(r"lm_head\.weight", lambda m: Target("output.weight")),
        _rule(L + r"ln_1" + P, lambda m: _blk(m, "attn_norm")),
        _rule(L + r"attn\.c_attn" + P, lambda m: _blk(m, "attn_qkv", conv1d=True)),
        _rule(L + r"attn\.c_proj" + P, lambda m: _blk(m, "attn_output", conv1d=True)),
        _rule(L + r"ln_2" + P, lambda m: _blk(m, "ffn_norm")),
        _rule(L + r"mlp\.c_fc" + P, lambda m: _blk(m, "ffn_up", conv1d=True)),
        _rule(L + r"mlp\.c_proj" + P, lambda m: _blk(m, "ffn_down", conv1d=True)),
    ]
    return Plan("gpt2", hp, rules, tied=bool(config.tie_word_embeddings), skip=(r"\.attn\.(masked_)?bias$",))


def _bloom(config: Any) -> Plan:
    n_head = int(config.n_head)
    hp = {
        "context_length": int(getattr(config, "seq_length", None) or 2048),
        "embedding_length": int(config.hidden_size),
        "block_count": int(config.n_layer),
        "feed_forward_length": 4 * int(config.hidden_size),
        "attention.head_count": n_head,
        "attention.head_count_kv": n_head,
        "attention.layer_norm_epsilon": float(config.layer_norm_epsilon),
        "vocab_size": int(config.vocab_size),
    }
    L = r"transformer\.h\.(?P<n>\d+)\."
    P = r"\.(?P<p>weight|bias)"
    qkv = _qkv_rows(n_head)
    rules = [
        _rule(r"transformer\.word_embeddings\.weight", lambda m: Target("token_embd.weight")),
        _rule(r"transformer\.word_embeddings_layernorm\.(?P<p>weight|bias)", lambda m: Target(f"token_embd_norm.{m['p']}")),
        _rule(r"transformer\.ln_f\.(?P<p>weight|bias)", lambda m: Target(f"output_norm.{m['p']}")),
        _rule(r"lm_head\.weight", lambda m: Target("output.weight")),
        _rule(L + r"input_layernorm" + P, lambda m: _blk(m, "attn_norm")),
        _rule(L + r"self_attention\.query_key_value" + P, lambda m: _blk(m, "attn_qkv", rows=qkv)),
        _rule(L + r"self_attention\.dense" + P, lambda m: _blk(m, "attn_output")),
        _rule(L + r"post_attention_layernorm" + P, lambda m: _blk(m, "ffn_norm")),
        _rule(L + r"mlp\.dense_h_to_4h" + P, lambda m: _blk(m, "ffn_up")),
        _rule(L + r"mlp\.dense_4h_to_h" + P, lambda m: _blk(m, "ffn_down")),
    ]
    return Plan("bloom", hp, rules, tied=bool(config.tie_word_embeddings))


def _phi3(config: Any) -> Plan:
    _check_act(config, ("silu",), "phi3")
    hp = _common(config) | _rope_keys(config, "phi3")[0]
    hp["rope.dimension_count"] = int(_head_dim(config) * float(getattr(config, "partial_rotary_factor", 1.0) or 1.0))
    orig = getattr(config, "original_max_position_embeddings", None)
    if orig:
        hp["rope.scaling.original_context_length"] = int(orig)
    if getattr(config, "sliding_window", None):
        hp["attention.sliding_window"] = int(config.sliding_window)
    L = r"model\.layers\.(?P<n>\d+)\."
    P = r"\.(?P<p>weight|bias)"
    rules = [
        _rule(r"model\.embed_tokens\.weight", lambda m: Target("token_embd.weight")),
        _rule(r"model\.norm\.weight", lambda m: Target("output_norm.weight")),
        _rule(r"lm_head\.weight", lambda m: Target("output.weight")),
        _rule(L + r"input_layernorm" + P, lambda m: _blk(m, "attn_norm")),
        _rule(L + r"self_attn\.qkv_proj" + P, lambda m: _blk(m, "attn_qkv")),
        _rule(L + r"self_attn\.o_proj" + P, lambda m: _blk(m, "attn_output")),
        _rule(L + r"post_attention_layernorm" + P, lambda m: _blk(m, "ffn_norm")),
        # gate_up_proj (2·ff, hidden): llama.cpp's phi3 reads it whole as ffn_up and splits gate | up itself
        _rule(L + r"mlp\.gate_up_proj" + P, lambda m: _blk(m, "ffn_up")),
        _rule(L + r"mlp\.down_proj" + P, lambda m: _blk(m, "ffn_down")),
    ]
    return Plan("phi3", hp, rules, tied=bool(config.tie_word_embeddings), skip=(r"rotary_emb\.",))


# model_type -> plan; the architectures we checked against llama.cpp (tests/core/test_gguf_arch.py)
PLANS: dict[str, Callable[[Any], Plan]] = {
    "llama": _llama,
    "mistral": _mistral,
    "qwen2": lambda c: _qwen(c, "qwen2"),
    "qwen3": lambda c: _qwen(c, "qwen3"),
    "gemma2": _gemma2,
    "gemma3_text": _gemma3,
    "phi3": _phi3,
    "gpt2": _gpt2,
    "bloom": _bloom,
}


def plan_for(config: Any) -> Plan:
    """The GGUF mapping of a model with this ``config``; `GgufUnsupported` naming the architecture otherwise."""
    kind = getattr(config, "model_type", None)
    make = PLANS.get(kind)
    if make is None:
        raise GgufUnsupported(
            f"GGUF export supports {', '.join(PLANS)}; this model's type is {kind!r}. Export the merged Hugging Face "
            "folder instead (llama.cpp's own convert_hf_to_gguf.py may know it)."
        )
    return make(config)
