"""How to train: `TrainingArguments`, saved in the project file as JSON, and each method's defaults.

Torch-free: the window builds its Training form from this dataclass (its fields and ``help``) on the
GUI thread; the loop that uses them is `core.train`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from core.errors import TrainingConfigError
from core.methods import catalog
from core.quantize import BASE_PRECISIONS, COMPUTE_DTYPES, QUANT_TYPES

SCHEDULES = ("linear", "cosine", "constant")
PRECISIONS = ("auto", "no", "bf16", "fp16")


@dataclass
class TrainingArguments:
    """How to train. Saved in the project file as JSON (``asdict`` / ``TrainingArguments(**d)``).

    ``batch_size`` is per process and micro-batch: one optimizer step sees
    ``batch_size × gradient_accumulation_steps × processes`` examples."""

    max_steps: int = field(default=60, metadata={"help": "Optimizer steps to take (ignored when num_epochs > 0)."})
    num_epochs: float = field(default=0.0, metadata={"help": "Passes over the training data; 0 = use max_steps."})
    batch_size: int = field(default=8, metadata={"help": "Examples per micro-batch and process."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches summed into one optimizer step (a bigger batch without more memory)."})
    learning_rate: float = field(default=2e-3, metadata={"help": "Peak learning rate of AdamW."})
    loraplus_lr_ratio: float = field(default=0.0, metadata={"help": "LoRA+: the B matrices learn this many times faster (e.g. 16); 0 = off."})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay."})
    adam_beta1: float = field(default=0.9, metadata={"help": "AdamW beta1."})
    adam_beta2: float = field(default=0.999, metadata={"help": "AdamW beta2."})
    adam_epsilon: float = field(default=1e-8, metadata={"help": "AdamW epsilon."})
    lr_scheduler: str = field(default="cosine", metadata={"help": "After warm-up: 'linear' or 'cosine' decay to 0, or 'constant'."})
    warmup_steps: int = field(default=5, metadata={"help": "Steps of linear warm-up from 0 to the learning rate."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Clip the gradient norm to this; 0 = no clipping."})
    gradient_checkpointing: bool = field(default=False, metadata={"help": "Recompute activations in backward: less memory, ~30 % slower."})
    share_dropout_masks: bool = field(default=False, metadata={"help": "LoRA: layers reading the same input (q/k/v, gate/up) share one dropout mask per step instead of one each (PEFT's way): faster, but a different regulariser."})
    device: str = field(default="auto", metadata={"help": "Where to train: 'auto' (a GPU when there is one, else the CPU), 'cpu', 'cuda', 'cuda:N' (the GPU numbered N) or 'mps' (Apple GPU). Under accelerate launch / torchrun each process takes its own GPU."})
    mixed_precision: str = field(default="auto", metadata={"help": "'auto' (bf16 on GPUs that have it, else fp16; none on CPU), 'no', 'bf16', 'fp16'."})
    base_precision: str = field(default="float32", metadata={"help": "How the frozen base model's weights are held: 'float32', 'bfloat16', 'float16', '8bit' or '4bit' (QLoRA: bitsandbytes, exactly as transformers' BitsAndBytesConfig quantizes)."})
    quant_type: str = field(default="nf4", metadata={"help": "4-bit base only: 'nf4' (NormalFloat, as in QLoRA) or 'fp4'."})
    double_quant: bool = field(default=True, metadata={"help": "4-bit base only: quantize the quantization scales too (about 0.4 bit a weight less)."})
    compute_dtype: str = field(default="float32", metadata={"help": "8-bit / 4-bit base: the dtype its layers compute in and its unquantized modules are held in: 'float32', 'bfloat16' or 'float16'."})
    seed: int = field(default=42, metadata={"help": "Seed of data order, dropout and adapter initialisation."})
    logging_steps: int = field(default=1, metadata={"help": "Report a step event every this many steps."})
    eval_steps: int = field(default=20, metadata={"help": "Evaluate on the validation split every this many steps (and at the end); 0 = only at the end."})
    eval_batch_size: int = field(default=16, metadata={"help": "Examples per evaluation batch and process."})
    eval_samples: int = field(default=8, metadata={"help": "At each evaluation, answer this many validation prompts greedily and score them against their references (exact match, contains, F1, ROUGE-L); 0 = off."})
    eval_max_new_tokens: int = field(default=32, metadata={"help": "Longest answer generated for each evaluation prompt, in tokens."})
    save_steps: int = field(default=50, metadata={"help": "Write a checkpoint every this many steps (and always at the end and on stop); 0 = only then."})
    save_total_limit: int = field(default=2, metadata={"help": "Keep at most this many checkpoints (oldest deleted first); 0 = keep all."})

    def __post_init__(self) -> None:
        positive = ("batch_size", "gradient_accumulation_steps", "logging_steps", "eval_batch_size", "eval_max_new_tokens")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise TrainingConfigError(f"{name} must be at least 1, not {getattr(self, name)}.")
        for name in ("max_steps", "warmup_steps", "eval_steps", "save_steps", "save_total_limit", "eval_samples"):
            if int(getattr(self, name)) < 0:
                raise TrainingConfigError(f"{name} must not be negative, not {getattr(self, name)}.")
        if self.num_epochs <= 0 and self.max_steps < 1:
            raise TrainingConfigError("Set max_steps ≥ 1 or num_epochs > 0.")
        if not self.learning_rate > 0:
            raise TrainingConfigError(f"learning_rate must be positive, not {self.learning_rate}.")
        if not (self.device in ("auto", "cpu", "cuda", "mps") or re.fullmatch(r"cuda:\d+", str(self.device))):
            raise TrainingConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' (e.g. cuda:1) or 'mps', not {self.device!r}.")
        if self.lr_scheduler not in SCHEDULES:
            raise TrainingConfigError(f"lr_scheduler must be one of {', '.join(SCHEDULES)}, not {self.lr_scheduler!r}.")
        if self.mixed_precision not in PRECISIONS:
            raise TrainingConfigError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, not {self.mixed_precision!r}.")
        if self.base_precision not in BASE_PRECISIONS:
            raise TrainingConfigError(f"base_precision must be one of {', '.join(BASE_PRECISIONS)}, not {self.base_precision!r}.")
        if self.quant_type not in QUANT_TYPES:
            raise TrainingConfigError(f"quant_type must be 'nf4' or 'fp4', not {self.quant_type!r}.")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise TrainingConfigError(f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, not {self.compute_dtype!r}.")
        if self.loraplus_lr_ratio < 0 or self.max_grad_norm < 0 or self.weight_decay < 0:
            raise TrainingConfigError("loraplus_lr_ratio, max_grad_norm and weight_decay must not be negative.")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainingArguments":
        """From saved JSON; unknown keys (from a newer version) are an error naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TrainingConfigError(f"Unknown training setting(s): {', '.join(unknown)}.")
        return cls(**d)


def defaults_for(method: str) -> tuple[dict[str, Any], TrainingArguments]:
    """(adapter config keyword arguments, training arguments) recommended for ``method`` (a PeftType name):
    the method file's ``FACTS`` (`core.methods.catalog`)."""
    try:
        facts = catalog.facts(method)
    except catalog.UnknownMethod:
        raise TrainingConfigError(f"No defaults for method {method!r}; known: {', '.join(catalog.names())}.") from None
    return dict(facts.adapter_defaults), TrainingArguments(**facts.training_defaults)
