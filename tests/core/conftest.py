"""Fixtures for the engine tests: tiny seeded models of the three families, inputs, and helpers.

Each test builds fresh models (a few ms each). Two calls of :func:`make_model` with the same arguments
return bitwise-identical models, so "ours" and "peft" can start from the same base.

``core.models.load_model`` (built-in tiny models) is used when it exists; otherwise the models are built
here from transformers configs: hidden 32, 2 layers, vocab 300, Llama with grouped-query attention (4 query
heads, 2 KV heads), each family with tied or untied output head.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest
import torch
import transformers

FAMILIES = ("bloom", "llama", "gpt2")
VOCAB = 300
HIDDEN = 32

# Per family: (module path prefix of the blocks, names) used by tests to write configs without guessing.
EMBEDDING = {"bloom": "word_embeddings", "llama": "embed_tokens", "gpt2": "wte"}
DEFAULT_TARGETS = {"bloom": ["query_key_value"], "llama": ["q_proj", "v_proj"], "gpt2": ["c_attn"]}
FINAL_NORM = {"bloom": "ln_f", "llama": "norm", "gpt2": "ln_f"}
LAYERS_PATTERN = {"bloom": "h", "llama": "layers", "gpt2": "h"}


def _config(family: str, tied: bool) -> transformers.PretrainedConfig:
    if family == "bloom":
        return transformers.BloomConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, n_layer=2, n_head=4, tie_word_embeddings=tied,
            bos_token_id=1, eos_token_id=2, pad_token_id=3, hidden_dropout=0.0, attention_dropout=0.0,
        )
    if family == "llama":
        return transformers.LlamaConfig(
            vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=tied,
            bos_token_id=1, eos_token_id=2, pad_token_id=3,
        )
    if family == "gpt2":
        return transformers.GPT2Config(
            vocab_size=VOCAB, n_embd=HIDDEN, n_layer=2, n_head=4, n_positions=64, tie_word_embeddings=tied,
            bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        )
    raise ValueError(family)


_CLASSES = {
    "bloom": transformers.BloomForCausalLM,
    "llama": transformers.LlamaForCausalLM,
    "gpt2": transformers.GPT2LMHeadModel,
}


def make_model(family: str, tied: bool = True, seed: int = 0) -> torch.nn.Module:
    """A tiny causal LM in eval mode, deterministic for (family, tied, seed)."""
    torch.manual_seed(seed)
    model = _CLASSES[family](_config(family, tied))
    # Larger than the default init range so adapters, norms and heads all visibly change the logits.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.2)
            elif "bias" in name:
                p.normal_(0.0, 0.1)
            else:  # norm weights
                p.uniform_(0.5, 1.5)
    model.name_or_path = f"tiny-{family}"
    return model.eval()


def peft_available() -> bool:
    return importlib.util.find_spec("peft") is not None


@pytest.fixture
def single_thread():
    """One intra-op thread: on these tiny tensors threads only cost, and LAPACK's SVD (PiSSA) spins for
    ~0.5 s per call when the 2 cores are busy. Restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def model_factory() -> Callable[..., torch.nn.Module]:
    return make_model


@pytest.fixture
def input_ids() -> torch.Tensor:
    g = torch.Generator().manual_seed(1234)
    return torch.randint(4, VOCAB, (2, 7), generator=g)  # (B, T)


@pytest.fixture
def attention_mask() -> torch.Tensor:
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, :2] = 0  # left padding in the second row
    return mask


def logits(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Eval-mode logits without gradients, (B, T, vocab)."""
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    return out.logits.detach().clone()


def base_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of a plain transformers model's tensors."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def perturb_adapter(model: torch.nn.Module, seed: int = 7, scale: float = 0.3) -> None:
    """Give every adapter tensor a random value so the adapter changes the output (any engine)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype) * scale + (1.0 if "magnitude" in name else 0.0))
            elif ".modules_to_save." in name:
                p.add_(torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype) * 0.1)


# ---- the configuration space --------------------------------------------------------------------------
# (id, family, tied output head, LoraConfig kwargs). Shared by the invariant and the parity tests, so every
# combination is checked both for our own invariants and against peft. Not a cartesian product: each axis
# value appears on each family where it applies, combined with other axes.
CASES: list[tuple[str, str, bool, dict]] = [
    # default targets per architecture, task types, r, alpha
    ("bloom-defaults", "bloom", True, dict(r=8, task_type="CAUSAL_LM")),
    ("llama-defaults", "llama", True, dict(r=4)),
    ("gpt2-defaults-conv1d", "gpt2", True, dict(r=4, lora_alpha=16, task_type="CAUSAL_LM")),
    # explicit lists, dotted suffixes, fan_in_fan_out given
    ("bloom-suffix-r1", "bloom", True, dict(r=1, lora_alpha=2, target_modules=["self_attention.query_key_value"])),
    ("llama-attn-list-dropout", "llama", True,
     dict(r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"])),
    ("gpt2-list-fifo-dropout", "gpt2", True,
     dict(r=4, lora_dropout=0.2, fan_in_fan_out=True, target_modules=["attn.c_attn", "mlp.c_fc"], task_type="CAUSAL_LM")),
    # regex strings
    ("bloom-regex", "bloom", True, dict(r=4, target_modules=r".*\.h\.1\.self_attention\.(query_key_value|dense)")),
    ("llama-regex", "llama", False, dict(r=4, target_modules=r"model\.layers\.\d+\.mlp\.(gate|up)_proj")),
    # all-linear (never the output head), tied and untied
    ("bloom-all-linear-untied", "bloom", False, dict(r=4, target_modules="all-linear")),
    ("llama-all-linear-untied", "llama", False, dict(r=4, target_modules="all-linear", task_type="CAUSAL_LM")),
    ("gpt2-all-linear-tied", "gpt2", True, dict(r=8, lora_alpha=4, target_modules="all-linear")),
    # embeddings (and lm_head where untied)
    ("bloom-embedding", "bloom", True, dict(r=4, target_modules=["word_embeddings"])),
    ("llama-embedding-qproj", "llama", True, dict(r=4, target_modules=["embed_tokens", "q_proj"], task_type="CAUSAL_LM")),
    ("gpt2-embedding-gaussian", "gpt2", True, dict(r=4, target_modules=["wte", "c_attn"], init_lora_weights="gaussian")),
    ("llama-lm_head-untied", "llama", False, dict(r=4, target_modules=["lm_head", "v_proj"])),
    ("llama-lm_head-tied", "llama", True, dict(r=4, target_modules=["lm_head", "q_proj"])),
    ("gpt2-lm_head-embedding-untied", "gpt2", False, dict(r=2, target_modules=["lm_head", "wte"], init_lora_weights=False)),
    # rsLoRA, DoRA (Linear and Conv1D)
    ("bloom-rslora", "bloom", True, dict(r=8, lora_alpha=16, use_rslora=True, lora_dropout=0.1)),
    ("llama-dora", "llama", True, dict(r=4, use_dora=True, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.1)),
    ("gpt2-dora-conv1d", "gpt2", True, dict(r=4, use_dora=True, task_type="CAUSAL_LM")),
    ("bloom-dora-rslora-all-linear", "bloom", True, dict(r=8, use_dora=True, use_rslora=True, target_modules="all-linear")),
    # init variants
    ("bloom-init-false", "bloom", True, dict(r=4, init_lora_weights=False)),
    ("llama-gaussian", "llama", True, dict(r=8, init_lora_weights="gaussian", target_modules=["q_proj", "up_proj"])),
    ("llama-pissa", "llama", True, dict(r=4, init_lora_weights="pissa")),
    ("gpt2-pissa", "gpt2", True, dict(r=4, init_lora_weights="pissa", target_modules=["c_attn", "c_proj"])),
    ("bloom-pissa-niter", "bloom", True, dict(r=4, init_lora_weights="pissa_niter_4")),
    ("gpt2-pissa-dora-dropout", "gpt2", True, dict(r=2, init_lora_weights="pissa", use_dora=True, lora_dropout=0.1, target_modules=["c_fc"])),
    # bias
    ("bloom-bias-all", "bloom", True, dict(r=4, bias="all")),
    ("gpt2-bias-lora_only", "gpt2", True, dict(r=4, bias="lora_only", target_modules=["c_attn", "c_fc"])),
    ("llama-bias-all-nobias", "llama", True, dict(r=4, bias="all")),
    ("gpt2-bias-all-save-ln_1", "gpt2", True, dict(r=4, target_modules=["c_attn"], modules_to_save=["ln_1"], bias="all")),
    ("bloom-dora-bias-lora_only", "bloom", True, dict(r=4, use_dora=True, bias="lora_only", lora_dropout=0.05)),
    # modules_to_save: a norm; lm_head on an untied model
    ("bloom-save-ln_f", "bloom", True, dict(r=4, modules_to_save=["ln_f"], task_type="CAUSAL_LM")),
    ("llama-save-lm_head-untied", "llama", False, dict(r=4, modules_to_save=["lm_head"])),
    ("llama-save-norm-overmatch", "llama", True, dict(r=4, modules_to_save=["norm"], target_modules=["o_proj"])),
    ("gpt2-save-ln_f-dora", "gpt2", True, dict(r=2, modules_to_save=["ln_f"], target_modules=["c_fc"], use_dora=True)),
    ("llama-save-embedding-tied", "llama", True, dict(r=4, modules_to_save=["embed_tokens"], task_type="CAUSAL_LM")),
    # rank / alpha patterns, with plain and regex keys
    ("llama-rank-alpha-pattern", "llama", True,
     dict(r=4, target_modules="all-linear", rank_pattern={"v_proj": 2, r"layers\.1\.self_attn\.q_proj": 8},
          alpha_pattern={"o_proj": 32, r"mlp\.(gate|up)_proj": 3})),
    ("gpt2-rank-pattern-conv1d", "gpt2", True,
     dict(r=2, target_modules=["c_attn", "c_proj"], rank_pattern={r"h\.0\.attn\.c_attn": 6}, alpha_pattern={"c_proj": 1})),
    ("bloom-rank-pattern-anchored-rslora", "bloom", True,
     dict(r=2, target_modules="all-linear", use_rslora=True, rank_pattern={r"^transformer\.h\.1\.mlp\.dense_4h_to_h": 5})),
    # layers_to_transform, with and without layers_pattern
    ("bloom-layer-int", "bloom", True, dict(r=4, target_modules=["query_key_value", "dense_h_to_4h"], layers_to_transform=1)),
    ("llama-layer-list-pattern", "llama", True,
     dict(r=4, target_modules=["q_proj", "gate_proj"], layers_to_transform=[0], layers_pattern="layers")),
    ("gpt2-layer-list-pattern-list", "gpt2", True,
     dict(r=4, target_modules=["c_attn", "c_proj"], layers_to_transform=[1], layers_pattern=["h"])),
    # exclude_modules, list and regex
    ("llama-exclude-list", "llama", True, dict(r=4, target_modules="all-linear", exclude_modules=["o_proj", "down_proj"])),
    ("llama-exclude-regex", "llama", False, dict(r=4, target_modules="all-linear", exclude_modules=r".*layers\.0\..*")),
    ("gpt2-exclude-suffix", "gpt2", True, dict(r=4, target_modules=["c_attn", "c_fc"], exclude_modules=["h.0.attn.c_attn"])),
]

CASE_PARAMS = [pytest.param(family, tied, kwargs, id=case_id) for case_id, family, tied, kwargs in CASES]


def lora_kwargs(kwargs: dict) -> dict:
    """A deep copy (configs may be mutated by the engines: targets resolved, fan_in_fan_out set)."""
    import copy

    return copy.deepcopy(kwargs)
