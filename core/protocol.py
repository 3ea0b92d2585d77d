"""The worker protocol: messages between the training worker and whoever started it (GUI or CLI).

Standard library only — the GUI process imports this module and must not pull in torch or Qt.

A message is a small frozen dataclass; each class has a ``type`` tag. On the wire a message is one
JSON object on one line (JSON Lines), with the protocol version under ``"v"`` and the tag under
``"type"``::

    {"v": 1, "type": "step", "step": 12, "epoch": 0.4, "loss": 1.93, ...}

Events (worker -> GUI, on the worker's stdout): `Started`, `Step`, `Eval`, `Checkpoint`,
`Finished`, `Failed`, `Log`, `Heartbeat`, `Paused`, `Continued`. ``core.train.train()`` yields these objects; the worker
forwards them with `encode` and records them in the project file.

Commands (GUI -> worker, on the worker's stdin): `Stop`, `Pause`, `Continue`. For people typing into
a terminal the worker also accepts the bare lines ``stop``, ``pause`` and ``continue`` (see
`decode_command`).

Versioning: `PROTOCOL_VERSION` changes only when a message changes incompatibly (a field removed,
renamed or its meaning changed). Adding an optional field does not change it; a reader ignores fields
it does not know, so an older GUI can read a newer worker's extra fields. A message with a *higher*
version, or a type this version does not know, is a `ProtocolError` that says so.

Floats: non-finite values (a NaN loss, an infinite grad norm) are written as JSON's ``NaN`` /
``Infinity`` extensions, which Python's ``json`` reads back; the loop reports a NaN loss as `Failed`.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

PROTOCOL_VERSION = 1
"""The version this module writes; `decode` accepts this one and older."""

__all__ = [
    "PROTOCOL_VERSION",
    "ProtocolError",
    "Started",
    "Step",
    "Eval",
    "Samples",
    "Checkpoint",
    "Finished",
    "Failed",
    "Log",
    "Heartbeat",
    "Paused",
    "Continued",
    "Stop",
    "Pause",
    "Continue",
    "Event",
    "Command",
    "Message",
    "EVENT_TYPES",
    "COMMAND_TYPES",
    "encode",
    "decode",
    "decode_command",
    "to_dict",
    "from_dict",
]


class ProtocolError(ValueError):
    """A line that is not a message of this protocol (not JSON, unknown type, newer version, bad fields)."""


# --------------------------------------------------------------------------------------------------
# Events: worker -> GUI
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """Training is about to take its first step (model, adapter and data are ready)."""

    type: ClassVar[str] = "started"

    run_id: int | None
    """The run's id in the project file; None when the loop runs outside a project (tests)."""
    total_steps: int
    """Optimizer steps the run will take in all (including those done before a resume)."""
    start_step: int = 0
    """The step the run starts from: 0 for a fresh run, the checkpoint's step on resume."""
    epochs: float | None = None
    """Planned number of passes over the training data."""
    train_examples: int | None = None
    """Examples in the training split after formatting (dropped / truncated ones are reported by `Log`)."""
    eval_examples: int | None = None
    """Examples in the validation split; 0 or None when there is none."""
    trainable_params: int | None = None
    """Trainable parameters of the adapter model (as PEFT's ``print_trainable_parameters`` counts)."""
    all_params: int | None = None
    """All parameters of the adapter model."""
    device: str = ""
    """Where it trains, for people: ``"cpu"``, ``"cuda:0 (NVIDIA H200) bf16"``..."""
    num_processes: int = 1
    """Data-parallel processes (1 unless launched with accelerate/torchrun)."""
    resumed_from: str | None = None
    """The checkpoint folder the run resumed from, or None for a fresh start."""


@dataclass(frozen=True)
class Step:
    """One optimizer step done (after gradient accumulation). Emitted every ``logging_steps`` steps."""

    type: ClassVar[str] = "step"

    step: int
    """Optimizer steps done so far, 1-based (the first step's event has step=1)."""
    epoch: float
    """Fractional epoch, e.g. 1.25 = a quarter into the second pass."""
    loss: float
    """Training loss of this step (mean over the step's tokens that carry loss)."""
    lr: float
    """Learning rate used for this step (the first parameter group)."""
    grad_norm: float | None = None
    """Total gradient norm before clipping; None when not computed."""
    tokens_per_s: float | None = None
    """Training throughput: input tokens (padding excluded) per second, all processes together."""
    elapsed_s: float = 0.0
    """Wall-clock seconds since training started (since the resume, for a resumed run)."""
    eta_s: float | None = None
    """Estimated seconds until the last step; None until it can be estimated."""


@dataclass(frozen=True)
class Eval:
    """An evaluation on the validation split finished."""

    type: ClassVar[str] = "eval"

    step: int
    """The optimizer step after which it was evaluated."""
    eval_loss: float
    """Mean loss over the validation split's loss-carrying tokens."""


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint was written completely (adapter, optimizer, scheduler, RNG, data position)."""

    type: ClassVar[str] = "checkpoint"

    step: int
    """The optimizer step the checkpoint holds; resume continues with step + 1."""
    path: str
    """The checkpoint folder (absolute path)."""


@dataclass(frozen=True)
class Finished:
    """Training ended without error: it ran to the end, or it was asked to stop."""

    type: ClassVar[str] = "finished"

    status: Literal["completed", "stopped"]
    """``"completed"``: all steps done. ``"stopped"``: a stop request was honoured (after a checkpoint)."""
    step: int = 0
    """The last optimizer step done."""
    loss: float | None = None
    """Last training loss, if any step was taken."""
    eval_loss: float | None = None
    """Last validation loss, if evaluated."""
    elapsed_s: float = 0.0
    """Wall-clock seconds of training."""
    checkpoint: str | None = None
    """The last checkpoint folder (what to resume or export from), or None."""

    def __post_init__(self) -> None:
        if self.status not in ("completed", "stopped"):
            raise ValueError(f"Finished.status must be 'completed' or 'stopped', not {self.status!r}")


@dataclass(frozen=True)
class Failed:
    """Training could not go on. The last good checkpoint (if any) is kept."""

    type: ClassVar[str] = "failed"

    reason: str
    """One or two sentences a person can act on, e.g. "Out of GPU memory at step 12: lower the batch
    size or max_length, or enable gradient checkpointing." Shown in the app as is."""
    step: int | None = None
    """The step at which it failed; None when it failed before training started."""
    detail: str = ""
    """The technical detail (usually the traceback), for a "details" pane and bug reports."""
    kind: str = "error"
    """A category for the GUI: ``"nan"`` (non-finite loss), ``"oom"`` (out of memory), ``"data"``
    (bad dataset), ``"config"`` (bad settings), ``"model"`` (model failed to load), ``"error"`` (other)."""
    checkpoint: str | None = None
    """The last good checkpoint folder (to resume from), or None."""


@dataclass(frozen=True)
class Log:
    """A line for the run's log: progress before training starts, data warnings, and the like."""

    type: ClassVar[str] = "log"

    level: Literal["debug", "info", "warning", "error"]
    """Severity; ``"warning"`` is worth showing to the person (e.g. "37 examples were truncated")."""
    message: str
    """The text, one line or a few."""


@dataclass(frozen=True)
class Heartbeat:
    """The worker is alive (sent about every few seconds even when a step takes long)."""

    type: ClassVar[str] = "heartbeat"

    time: float = field(default_factory=time.time)
    """Unix time when it was sent."""
    step: int | None = None
    """The last optimizer step done, if any."""


@dataclass(frozen=True)
class Paused:
    """The loop is paused after an optimizer step (on a `Pause` command): no step runs until `Continue`
    (or `Stop`, which still checkpoints and finishes). Heartbeats go on while paused."""

    type: ClassVar[str] = "paused"

    step: int
    """The last optimizer step done before pausing."""
    time: float = field(default_factory=time.time)
    """Unix time when the pause began."""


@dataclass(frozen=True)
class Continued:
    """The loop runs again after a pause (on a `Continue` command)."""

    type: ClassVar[str] = "continued"

    step: int
    """The last optimizer step done; the next step is ``step + 1``."""
    paused_seconds: float = 0.0
    """How long the pause lasted; elapsed time and ETA in later `Step` events leave it out."""


@dataclass(frozen=True)
class Samples:
    """Greedy answers to the run's fixed evaluation prompts after an evaluation (step 0: the base model,
    before training), each scored against its reference (`core.evaluate`)."""

    type: ClassVar[str] = "samples"

    step: int
    """The optimizer step whose adapter answered; 0 for the base model."""
    samples: list = field(default_factory=list)
    """One dict per prompt: prompt_index, prompt, reference, output, exact_match, contains, f1, rouge_l."""


# --------------------------------------------------------------------------------------------------
# Commands: GUI -> worker
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """Ask the worker to stop: it finishes the current step, writes a checkpoint, emits
    ``Finished(status="stopped")`` and exits with status 0."""

    type: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Pause:
    """Ask the worker to pause after the current optimizer step (it answers `Paused`). A paused run
    keeps its memory and its place; nothing is written. Ignored when already paused."""

    type: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Continue:
    """Ask a paused worker to go on (it answers `Continued`). Ignored when not paused."""

    type: ClassVar[str] = "continue"


Event = Union[Started, Step, Eval, Samples, Checkpoint, Finished, Failed, Log, Heartbeat, Paused, Continued]
Command = Union[Stop, Pause, Continue]
Message = Union[Event, Command]

EVENT_TYPES: dict[str, type] = {
    cls.type: cls for cls in (Started, Step, Eval, Samples, Checkpoint, Finished, Failed, Log, Heartbeat, Paused, Continued)
}
"""Tag -> event class."""
COMMAND_TYPES: dict[str, type] = {cls.type: cls for cls in (Stop, Pause, Continue)}
"""Tag -> command class."""
_ALL_TYPES: dict[str, type] = {**EVENT_TYPES, **COMMAND_TYPES}


def to_dict(msg: Message) -> dict[str, Any]:
    """The message as a JSON-ready dict: ``{"v": ..., "type": ..., <fields>}``."""
    if not dataclasses.is_dataclass(msg) or type(msg).__dict__.get("type") not in _ALL_TYPES:
        raise ProtocolError(f"not a protocol message: {msg!r}")
    out: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": msg.type}
    for f in dataclasses.fields(msg):
        out[f.name] = getattr(msg, f.name)
    return out


def from_dict(data: dict[str, Any]) -> Message:
    """The message a dict (as `to_dict` makes it) describes. Unknown fields are ignored."""
    if not isinstance(data, dict):
        raise ProtocolError(f"a protocol message is a JSON object, not {type(data).__name__}")
    version = data.get("v")
    if not isinstance(version, int) or version < 1:
        raise ProtocolError(f"protocol message without a valid version ('v'): {_short(data)}")
    if version > PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version} is newer than this program understands ({PROTOCOL_VERSION}); "
            "the worker and the app come from different versions of Adapter Studio — update the app"
        )
    tag = data.get("type")
    cls = _ALL_TYPES.get(tag)  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown protocol message type {tag!r} (known: {', '.join(sorted(_ALL_TYPES))})")
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"bad {tag!r} message: {exc}") from None


def encode(msg: Message) -> str:
    """One line of JSON for `msg`, without the trailing newline."""
    # Compact separators; ensure_ascii keeps the line free of any newline-like code point.
    return json.dumps(to_dict(msg), separators=(",", ":"), ensure_ascii=True)


def decode(line: str | bytes) -> Message:
    """The message on one line (as `encode` writes it). Raises `ProtocolError` on anything else."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    text = line.strip()
    if not text:
        raise ProtocolError("empty line")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not a JSON line ({exc.msg} at column {exc.colno}): {_short(text)}") from None
    return from_dict(data)


def decode_command(line: str | bytes) -> Command:
    """A command from the worker's stdin: an encoded command, or a bare command word (``stop``,
    ``pause``, ``continue``; case-insensitive) for people typing into a terminal. Raises `ProtocolError` otherwise."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    text = line.strip()
    if text.lower() in COMMAND_TYPES:
        return COMMAND_TYPES[text.lower()]()
    msg = decode(text)
    if not isinstance(msg, tuple(COMMAND_TYPES.values())):
        raise ProtocolError(f"{msg.type!r} is an event, not a command")
    return msg  # type: ignore[return-value]


def _short(obj: Any, limit: int = 120) -> str:
    text = obj if isinstance(obj, str) else repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."
