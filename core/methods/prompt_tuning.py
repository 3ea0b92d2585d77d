"""Prompt tuning (Lester et al., 2021, "The Power of Scale for Parameter-Efficient Prompt Tuning",
https://arxiv.org/abs/2104.08691).

``n`` learned vectors ``P (n, d)`` — "virtual tokens" — are put in front of the input embeddings of every
sequence; the model itself stays frozen: ``inputs_embeds = [P; E(x)]`` (B, n+L, d). The attention mask gets
``n`` ones in front, the labels ``n`` times ``-100``, so the loss ignores the virtual positions. On Bloom the
virtual tokens pass through ``word_embeddings_layernorm`` like the real ones (we hand the model
``inputs_embeds``), as in PEFT.

Init (PEFT's): RANDOM (``nn.Embedding``'s normal(0, 1)), SAMPLE_VOCAB (rows of the model's own embedding at
random token ids), TEXT (the embeddings of a text's tokens, cut or repeated to ``n``).

Files: PEFT's single key ``prompt_embeddings (n, d)``, which is the whole trainable state, so a saved adapter
can be loaded with ``is_trainable=True`` and trained further. Nothing to merge: ``merge_and_unload`` says so.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from core.config import ConfigError, PeftType
from core.methods import _prompt
from core.methods.contract import MethodFacts


FACTS = MethodFacts.prompt_learning(
    label="Prompt tuning",
    learning_rate=3e-2,
    no_targets="Prompt tuning learns virtual tokens in front of the input; it adapts no module.",
    measured={"facts": 0.0, "style": 0.975, "trainable": 11520, "seconds": 623},
)


class PromptTuningInit(str, enum.Enum):
    """How the virtual tokens start (PEFT's names)."""

    TEXT = "TEXT"
    SAMPLE_VOCAB = "SAMPLE_VOCAB"
    RANDOM = "RANDOM"


@dataclass
class PromptTuningConfig(_prompt.VirtualTokenConfig):
    """Settings of a prompt-tuning adapter (PEFT's ``PromptTuningConfig`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.PROMPT_TUNING

    prompt_tuning_init: PromptTuningInit | str = field(
        default=PromptTuningInit.RANDOM,
        metadata={"help": "RANDOM (normal noise), SAMPLE_VOCAB (embeddings of random tokens) or TEXT (of a given text)."},
    )
    prompt_tuning_init_text: str | None = field(default=None, metadata={"help": "The text whose token embeddings start the prompt (TEXT)."})
    tokenizer_name_or_path: str | None = field(
        default=None, metadata={"help": "Tokenizer (folder or hub id) that splits prompt_tuning_init_text (TEXT)."}
    )
    tokenizer_kwargs: dict[str, Any] | None = field(default=None, metadata={"help": "Extra arguments for loading that tokenizer."})

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            self.prompt_tuning_init = PromptTuningInit(self.prompt_tuning_init)
        except ValueError:
            allowed = ", ".join(i.value for i in PromptTuningInit)
            raise ConfigError(f"prompt_tuning_init must be one of {allowed}; got {self.prompt_tuning_init!r}.") from None
        if self.prompt_tuning_init == PromptTuningInit.TEXT:
            if not self.prompt_tuning_init_text:
                # PEFT's sentences (code written for PEFT matches them), then what the setting is for
                raise ConfigError("When prompt_tuning_init='TEXT', prompt_tuning_init_text can't be None: give the text "
                                  "whose token embeddings start the prompt.")
            if not self.tokenizer_name_or_path:
                raise ConfigError("When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be None: name the tokenizer "
                                  "(folder or hub id) that splits the text.")
        if self.tokenizer_kwargs is not None and self.prompt_tuning_init != PromptTuningInit.TEXT:
            raise ConfigError("tokenizer_kwargs only applies with prompt_tuning_init='TEXT'.")


Config = PromptTuningConfig


def can_target(module: nn.Module) -> str | None:
    """Prompt tuning adapts no module: it adds virtual tokens in front of the input."""
    return "Prompt tuning adds virtual tokens in front of the input; it does not adapt individual modules."


class PromptEmbedding(nn.Module):
    """The learned virtual tokens, ``embedding.weight (n, d)`` (PEFT's module and parameter names)."""

    reparameterised = False

    def __init__(self, n: int, d: int, **factory: Any) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n, d, **factory)

    def forward(self) -> torch.Tensor:
        return self.embedding.weight  # (n, d)


def _init_token_ids(config: PromptTuningConfig, n: int, vocab: int) -> torch.Tensor | None:
    """Token ids whose embeddings start the prompt, (n,), or None for RANDOM."""
    if config.prompt_tuning_init == PromptTuningInit.SAMPLE_VOCAB:
        return torch.randint(0, vocab, (n,))
    if config.prompt_tuning_init == PromptTuningInit.TEXT:
        from transformers import AutoTokenizer

        kwargs = dict(config.tokenizer_kwargs or {})
        kwargs.pop("trust_remote_code", None)  # never run a tokenizer's own code to start a prompt
        tokenizer = AutoTokenizer.from_pretrained(config.tokenizer_name_or_path, **kwargs)
        ids = list(tokenizer(config.prompt_tuning_init_text)["input_ids"])
        if not ids:
            raise ConfigError("prompt_tuning_init_text tokenizes to nothing; give a non-empty text.")
        ids = (ids * (n // len(ids) + 1))[:n]  # cut, or repeat until n
        if max(ids) >= vocab:
            raise ConfigError(f"The tokenizer '{config.tokenizer_name_or_path}' produces ids beyond this model's vocabulary ({vocab}).")
        return torch.tensor(ids)
    return None


def peft_inject(peft_model: nn.Module, config: PromptTuningConfig, adapter_name: str, *, initialise: bool = True) -> None:
    """Fill the model-shape fields and create adapter ``adapter_name``'s virtual tokens."""
    model = peft_model.base_model.model
    _prompt.check_model(model, "Prompt tuning", "inputs_embeds", "it feeds learned vectors in place of token ids")
    _prompt.fill_from_model(config, model)
    n, d = config.num_virtual_tokens * config.num_transformer_submodules, config.token_dim
    word_embeddings = model.get_input_embeddings()
    encoder = PromptEmbedding(n, d, **_prompt.same_device_dtype(model))
    if initialise:
        ids = _init_token_ids(config, n, word_embeddings.num_embeddings)
        if ids is not None:
            with torch.no_grad():
                encoder.embedding.weight.copy_(word_embeddings(ids.to(word_embeddings.weight.device)))
    _prompt.encoders(peft_model)[adapter_name] = encoder


def _prompts(peft_model: nn.Module) -> torch.Tensor:
    return peft_model.prompt_encoder[peft_model.active_adapter]()  # (n, d)


def peft_forward(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """Forward with the active adapter's virtual tokens in front (outputs cover n + L positions)."""
    return _prompt.virtual_token_forward(peft_model, lambda: _prompts(peft_model), *args, **kwargs)


def peft_generate(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """transformers' ``generate`` with the virtual tokens in the prefill only (see ``_prompt``)."""
    return _prompt.virtual_token_generate(peft_model, lambda: _prompts(peft_model), *args, **kwargs)


def peft_adapter_state_dict(peft_model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """``{"prompt_embeddings": (n, d)}``: the whole state, so inference and further training both need only it."""
    return _prompt.adapter_state(peft_model.prompt_encoder[name])


def peft_load_weights(peft_model: nn.Module, name: str, state: dict[str, torch.Tensor], source: str) -> None:
    config = peft_model.peft_config[name]
    shape = (config.num_virtual_tokens * config.num_transformer_submodules, config.token_dim)
    _prompt.load_state(peft_model, name, state, source, shape, build_full=None)


peft_merge_and_unload = peft_merge_adapter = _prompt.refuse_merge
