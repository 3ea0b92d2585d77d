"""What one method file provides: its facts for people and tools (`MethodFacts`, torch-free) and its
engine contract (`AdapterMethod`, with the optional hooks named in `HOOKS`).

A method file ``core/methods/<method>.py`` defines, at module level:

- ``FACTS = MethodFacts(...)`` with literal values only: `core.methods.catalog` reads them from the
  file's text, so the window and the command line know every method without importing torch (the
  prompt-learning methods write ``MethodFacts.prompt_learning(...)``: their shared facts, theirs added);
- ``Config``: its dataclass config (a `core.config.PeftConfig` subclass, also under PEFT's name);
- ``can_target(module)``: ``None`` if the method can adapt this module, else why not (one sentence);
- ``inject(model, config, adapter_name, *, initialise=True)``: wrap the selected modules of ``model``
  in place, returning their names — or the hook ``peft_inject`` for methods whose state lives beside
  the model (prompt learning);
- optionally ``LAYER_CLASS`` (the layer it injects), ``MODEL_VERBS`` (extra ``PeftModel`` methods, name
  -> function receiving the PeftModel first, e.g. AdaLoRA's ``update_and_allocate``) and any of the
  hooks in `HOOKS` as ``peft_<verb>(peft_model, ...)``, which take over that ``PeftModel`` verb;
- a ``low_rank`` method (`MethodFacts.low_rank`): ``update_size(module_name, weights, config)`` and
  ``UPDATE_METRIC`` (`LowRankMethod`), what the window's Adaptation tab draws from a checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from core.data import TEACHES as DATA_KINDS  # what a dataset can teach, as the user says it (`core.data.TEACHES`)

if TYPE_CHECKING:  # torch loads lazily: the window reads the facts on its GUI thread
    from torch import nn

    from core.config import PeftConfig

GOOD_SCORE = 0.5
"""A method is "good for" a kind of data when its defaults scored at least this on that task's held-out file (the base
model scores 0.00 on both; docs/method-defaults.md)."""

HOOKS = ("inject", "forward", "generate", "adapter_state_dict", "load_weights", "merge_adapter", "merge_and_unload")
"""The ``PeftModel`` verbs a method may take over with a module-level ``peft_<verb>(peft_model, ...)``
(`core.peft_model.PeftModel._method_hook`); a method that defines none gets the plain behaviour."""


@dataclass(frozen=True)
class MethodFacts:
    """A method's facts, declared once in its file and read by the GUI, the CLI, export and training."""

    label: str
    """Its name for people ("LoRA", "IA³")."""
    mergeable: bool
    """Its adapter is a weight update that can be merged into the base weights (exported as a merged model)."""
    adapter_defaults: dict[str, Any]
    """Config settings that make a short run on a small dataset learn without tuning (a new project's)."""
    training_defaults: dict[str, Any]
    """`core.args.TrainingArguments` settings that go with them (the rest keep their defaults)."""
    form_first_values: tuple[str, ...] = ()
    """Config fields without a default of their own: the form fills them from `adapter_defaults` when the
    method is picked, so a freshly picked method is valid at once."""
    no_targets: str | None = None
    """Why the module tree offers no targets (the method adapts no module), for people; None if it does."""
    own_targets: bool = False
    """``target_modules`` is the method's own (filled from the architecture), not the module tree's choice:
    the form shows it as a plain field."""
    low_rank: bool = False
    """Each adapted module holds a low-rank update ``B A`` (the Adaptation tab draws its size)."""
    combination_types: tuple[str, ...] = ()
    """The ``add_weighted_adapter`` rules (`core.arithmetic`) that combine this method's adapters, which the
    Combine runs dialog and ``adapter-studio combine`` offer (`core.combine`); empty: its runs cannot be combined."""
    measured: dict[str, Any] = field(default_factory=dict)
    """What the defaults measured on SmolLM2-135M-Instruct (tests/benchmarks/sweep_defaults.py, 60 steps, plain
    rows; docs/method-defaults.md): ``"facts"``, ``"style"``: the held-out score of each task (exact match on
    the made-up capitals; `core.evaluate.follows_format` on the answer template), ``"trainable"``: trainable
    parameters, ``"seconds"``: seconds of the 60 training steps of the style task (2 shared CPU cores)."""

    @property
    def good_for(self) -> tuple[str, ...]:
        """The kinds of data (`DATA_KINDS`) the defaults measured well on (a held-out score of at least `GOOD_SCORE`
        in `measured`): the method form recommends the method for them and warns before training on another kind
        (docs/method-defaults.md). Derived, so it cannot disagree with the measurement."""
        return tuple(kind for kind in DATA_KINDS if self.measured.get(kind, 0.0) >= GOOD_SCORE)

    @property
    def suggested(self) -> dict[str, Any]:
        """The form's first values (`form_first_values` taken from `adapter_defaults`)."""
        return {name: self.adapter_defaults[name] for name in self.form_first_values}

    @classmethod
    def prompt_learning(cls, *, label: str, learning_rate: float, no_targets: str,
                        adapter_defaults: dict[str, Any] | None = None, training_defaults: dict[str, Any] | None = None,
                        measured: dict[str, Any] | None = None) -> MethodFacts:
        """The facts prompt tuning, P-tuning and prefix tuning share, with what each names itself: they merge
        nothing, learn 20 virtual tokens by default, and adapt no module. Prompt learning trains far fewer
        parameters than LoRA and wants a much larger learning rate (each file gives its own), linear decay."""
        return cls(
            label=label,
            mergeable=False,
            adapter_defaults={"num_virtual_tokens": 20, **(adapter_defaults or {})},
            training_defaults={"learning_rate": learning_rate, "lr_scheduler": "linear", **(training_defaults or {})},
            form_first_values=("num_virtual_tokens",),
            no_targets=no_targets,
            measured=dict(measured or {}),
        )


class AdapterMethod(Protocol):
    """The contract of a method module (a module satisfies it by its module-level names)."""

    FACTS: MethodFacts
    Config: type[PeftConfig]

    def can_target(self, module: nn.Module) -> str | None: ...


class LayerMethod(AdapterMethod, Protocol):
    """A method that changes the model's layers (LoRA, AdaLoRA, IA³, adaption prompt)."""

    LAYER_CLASS: type[nn.Module]

    def inject(self, model: nn.Module, config: Any, adapter_name: str, *, initialise: bool = True) -> list[str]: ...


class LowRankMethod(LayerMethod, Protocol):
    """A method whose adapted modules each hold a low-rank update (``FACTS.low_rank``: LoRA, AdaLoRA)."""

    UPDATE_METRIC: str
    """What the Adaptation tab draws per module: "norm" (‖ΔW‖_F) or "rank" (the rank kept)."""

    def update_size(self, module_name: str, weights: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        """``{"norm": ‖ΔW‖_F, "rank": int}`` of one module from its saved tensors and ``adapter_config.json``."""
        ...


class PromptMethod(AdapterMethod, Protocol):
    """A method whose state lives beside the model (prompt tuning, P-tuning, prefix tuning)."""

    def peft_inject(self, peft_model: nn.Module, config: Any, adapter_name: str, *, initialise: bool = True) -> None: ...

