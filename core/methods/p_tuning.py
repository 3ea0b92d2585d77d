"""P-tuning (Liu et al., 2021, "GPT Understands, Too", https://arxiv.org/abs/2103.10385).

Like prompt tuning, ``n`` virtual tokens go in front of the input embeddings, but they are not learned
directly: a small encoder reparameterises them, which the paper finds trains more stably,
``P = head(E) (n, d)`` with ``E (n, d)`` a learned table and ``head`` (PEFT's choices, names and sizes)

- MLP: ``Linear(d, h) · ReLU · Linear(h, h) · ReLU · Linear(h, d)`` (always three layers; PEFT ignores
  ``encoder_num_layers`` for the MLP and so do we, with a warning);
- LSTM: a bidirectional ``LSTM(d, h, encoder_num_layers)`` then ``Linear(2h, 2h) · ReLU · Linear(2h, d)``.

Then as prompt tuning: ``inputs_embeds = [P; E(x)]``, mask ones and labels ``-100`` for the virtual positions.

Files: PEFT's ``prompt_embeddings (n, d)`` is the encoder *output*, enough for inference but not for training
on. We add the encoder's weights under ``prompt_encoder_state.*`` (PEFT ignores those keys; see ``_prompt``), so
``PeftModel.from_pretrained(..., is_trainable=True)`` rebuilds the MLP/LSTM and training continues exactly.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from core.config import ConfigError, PeftType
from core.methods import _prompt
from core.methods.contract import MethodFacts


FACTS = MethodFacts.prompt_learning(
    label="P-tuning",
    learning_rate=1e-2,
    adapter_defaults={"encoder_hidden_size": 128},
    no_targets="P-tuning learns virtual tokens (through a small prompt encoder); it adapts no module.",
    measured={"facts": 0.0, "style": 1.0, "trainable": 176192, "seconds": 610},
)


class PromptEncoderReparameterizationType(str, enum.Enum):
    """The encoder that produces the virtual tokens (PEFT's names)."""

    MLP = "MLP"
    LSTM = "LSTM"


MLP_LAYERS = 2  # PEFT's default encoder_num_layers; the MLP always has three Linear layers regardless


@dataclass
class PromptEncoderConfig(_prompt.VirtualTokenConfig):
    """Settings of a P-tuning adapter (PEFT's ``PromptEncoderConfig`` fields and defaults)."""

    peft_type: ClassVar[PeftType] = PeftType.P_TUNING

    encoder_reparameterization_type: PromptEncoderReparameterizationType | str = field(
        default=PromptEncoderReparameterizationType.MLP,
        metadata={"help": "The encoder that produces the virtual tokens: MLP (recommended) or LSTM."},
    )
    encoder_hidden_size: int | None = field(
        default=None, metadata={"help": "Hidden width h of the encoder; empty means the model's hidden size."}
    )
    encoder_num_layers: int = field(default=MLP_LAYERS, metadata={"help": "LSTM layers (the MLP always has three Linear layers)."})
    encoder_dropout: float = field(default=0.0, metadata={"help": "Dropout between LSTM layers, in [0, 1)."})

    def __post_init__(self) -> None:
        super().__post_init__()
        try:
            self.encoder_reparameterization_type = PromptEncoderReparameterizationType(self.encoder_reparameterization_type)
        except ValueError:
            raise ConfigError(
                f"encoder_reparameterization_type must be MLP or LSTM; got {self.encoder_reparameterization_type!r}."
            ) from None
        h = self.encoder_hidden_size
        if h is not None and (isinstance(h, bool) or not isinstance(h, int) or h < 1):
            raise ConfigError(f"encoder_hidden_size must be a whole number ≥ 1, got {h!r}.")
        if isinstance(self.encoder_num_layers, bool) or not isinstance(self.encoder_num_layers, int) or self.encoder_num_layers < 1:
            raise ConfigError(f"encoder_num_layers must be a whole number ≥ 1, got {self.encoder_num_layers!r}.")
        if not 0.0 <= float(self.encoder_dropout) < 1.0:
            raise ConfigError(f"encoder_dropout must be in [0, 1), got {self.encoder_dropout!r}.")


Config = PromptEncoderConfig


def can_target(module: nn.Module) -> str | None:
    """P-tuning adapts no module: it adds virtual tokens in front of the input."""
    return "P-tuning adds virtual tokens in front of the input; it does not adapt individual modules."


class PromptEncoder(nn.Module):
    """``embedding (n, d)`` reparameterised by ``mlp_head`` (and ``lstm_head``): PEFT's module and parameter names."""

    reparameterised = True

    def __init__(self, config: PromptEncoderConfig, **factory: Any) -> None:
        super().__init__()
        n, d, h = config.num_virtual_tokens * config.num_transformer_submodules, config.token_dim, config.encoder_hidden_size
        self.kind = config.encoder_reparameterization_type
        self.embedding = nn.Embedding(n, d, **factory)
        if self.kind == PromptEncoderReparameterizationType.LSTM:
            self.lstm_head = nn.LSTM(d, h, num_layers=config.encoder_num_layers, dropout=float(config.encoder_dropout),
                                     bidirectional=True, batch_first=True, **factory)
            self.mlp_head = nn.Sequential(nn.Linear(2 * h, 2 * h, **factory), nn.ReLU(), nn.Linear(2 * h, d, **factory))
        else:
            self.mlp_head = nn.Sequential(
                nn.Linear(d, h, **factory), nn.ReLU(), nn.Linear(h, h, **factory), nn.ReLU(), nn.Linear(h, d, **factory)
            )

    def forward(self) -> torch.Tensor:
        x = self.embedding.weight.unsqueeze(0)  # (1, n, d): the same for every sequence, so computed once
        if self.kind == PromptEncoderReparameterizationType.LSTM:
            x = self.lstm_head(x)[0]  # (1, n, 2h)
        return self.mlp_head(x)[0]  # (n, d)


def _build(peft_model: nn.Module, config: PromptEncoderConfig) -> PromptEncoder:
    return PromptEncoder(config, **_prompt.same_device_dtype(peft_model.base_model.model))


def peft_inject(peft_model: nn.Module, config: PromptEncoderConfig, adapter_name: str, *, initialise: bool = True) -> None:
    """Fill the model-shape fields and create adapter ``adapter_name``'s encoder (PyTorch's default init, as PEFT)."""
    _prompt.check_model(peft_model.base_model.model, "P-tuning", "inputs_embeds", "it feeds learned vectors in place of token ids")
    _prompt.fill_from_model(config, peft_model.base_model.model)
    if config.encoder_hidden_size is None:
        config.encoder_hidden_size = config.token_dim
    if (config.encoder_reparameterization_type == PromptEncoderReparameterizationType.MLP
            and config.encoder_num_layers != MLP_LAYERS and initialise):
        warnings.warn("encoder_num_layers is ignored for the MLP encoder: it always has three Linear layers (as PEFT).", stacklevel=3)
    _prompt.encoders(peft_model)[adapter_name] = _build(peft_model, config)


def _prompts(peft_model: nn.Module) -> torch.Tensor:
    return peft_model.prompt_encoder[peft_model.active_adapter]()  # (n, d)


def peft_forward(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """Forward with the encoder's virtual tokens in front (outputs cover n + L positions)."""
    return _prompt.virtual_token_forward(peft_model, lambda: _prompts(peft_model), *args, **kwargs)


def peft_generate(peft_model: nn.Module, *args: Any, **kwargs: Any) -> Any:
    """transformers' ``generate`` with the virtual tokens in the prefill only (see ``_prompt``)."""
    return _prompt.virtual_token_generate(peft_model, lambda: _prompts(peft_model), *args, **kwargs)


def peft_adapter_state_dict(peft_model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """``prompt_embeddings (n, d)`` (the encoder output, PEFT's key) + ``prompt_encoder_state.*`` (to train on)."""
    return _prompt.adapter_state(peft_model.prompt_encoder[name])


def peft_load_weights(peft_model: nn.Module, name: str, state: dict[str, torch.Tensor], source: str) -> None:
    config = peft_model.peft_config[name]

    def build() -> PromptEncoder:
        return _build(peft_model, config)

    build.reparameterises = True  # type: ignore[attr-defined]
    shape = (config.num_virtual_tokens * config.num_transformer_submodules, config.token_dim)
    _prompt.load_state(peft_model, name, state, source, shape, build_full=build)


peft_merge_and_unload = peft_merge_adapter = _prompt.refuse_merge
