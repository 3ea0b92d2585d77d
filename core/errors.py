"""Every error a person can cause, and the one place an exception becomes what a person reads.

Each class carries a ``kind`` (what to fix: the dataset, a setting, the model reference, ...) and a
message written for a person that names what was wrong and where (file, line, module name). The
modules that raise them import them from here (``core.data.DataError is core.errors.DataError``).

`explain` maps any exception to a `Problem` (kind, message, detail). The command line prints its
message (`core.cli`), the worker records it as a ``Failed`` event (`core.worker`, `core.train`), and
the window shows the recorded reason with advice for its kind (`studio.messages.person` and `studio.messages.advice`).

``kind`` uses the vocabulary of ``core.protocol.Failed.kind``, which project files already hold:
``config``, ``data``, ``model``, ``oom`` (out of memory), ``nan`` (set by the loop) and ``error``
(anything unexpected), plus ``project``, ``request`` and ``export`` (the window gives these the
general advice).
This module imports nothing of ours and no torch, so every module (and the GUI) may import it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import ClassVar


class PersonError(Exception):
    """An error whose message is written for a person; ``kind`` says what they have to fix."""

    kind: ClassVar[str] = "error"


class ConfigError(PersonError, ValueError):
    """A config value is invalid; the message names the field and what is allowed."""

    kind = "config"


class TargetError(PersonError, ValueError):
    """The targets in a config select nothing, select something unadaptable, or name unknown modules."""

    kind = "config"


class TrainingConfigError(PersonError, ValueError):
    """A training setting is out of range; the message names the field."""

    kind = "config"


class AdapterLoadError(PersonError, ValueError):
    """An adapter file does not fit this model or is unreadable; the message says which file/module."""

    kind = "config"


class DataError(PersonError, ValueError):
    """The dataset cannot be used. The message names the file and says where and what is wrong."""

    kind = "data"


class ModelLoadError(PersonError):
    """A model reference could not be resolved or loaded. The message is written for a person:
    what was wrong, where (file or name), and what to do about it."""

    kind = "model"


class HubError(ModelLoadError):
    """The Hugging Face Hub could not give a model: not found, gated without access, no network, a
    revision that does not exist, not enough disk space, an interrupted download (`core.hub`)."""


class DownloadCancelled(PersonError):
    """The person cancelled a download; what was fetched stays in the cache and the next download resumes it."""

    kind = "request"


class ProjectFileError(PersonError):
    """The file is not a usable project file (missing, corrupt, not ours). The message is for a person."""

    kind = "project"


class ReadOnlyProjectError(ProjectFileError):
    """A write was attempted on a project opened read-only (e.g. written by a newer Adapter Studio)."""


class RequestError(PersonError):
    """A mistake in what was asked (no such run, a run already training, ...); the message says what to do."""

    kind = "request"


class ExportError(PersonError, RuntimeError):
    """The export could not be written or did not verify; nothing was left at the destination."""

    kind = "export"


@dataclass(frozen=True)
class Problem:
    """What a person is told about an exception."""

    kind: str
    """``Failed.kind`` vocabulary (see the module docstring)."""
    message: str
    """The exception's own message for a `PersonError`, else ``"<class name>: <message>"``."""
    detail: str
    """The traceback, for the log and ``--debug``."""
    expected: bool
    """True for a `PersonError`: its message alone says what to do (no traceback, no class name)."""


def is_out_of_memory(exc: BaseException) -> bool:
    """torch's ``OutOfMemoryError`` (named, not imported: this module stays torch-free) or an allocator
    message saying so (CUDA, MPS and the CPU allocator word it differently but all say "out of memory")."""
    return any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__) or "out of memory" in str(exc).lower()


def explain(exc: BaseException) -> Problem:
    """The one mapping from an exception to what the CLI prints, the worker records and the window shows."""
    detail = "".join(traceback.format_exception(exc))
    if is_out_of_memory(exc):
        return Problem("oom", str(exc), detail, expected=isinstance(exc, PersonError))
    if isinstance(exc, PersonError):
        return Problem(exc.kind, str(exc), detail, expected=True)
    return Problem("error", f"{type(exc).__name__}: {exc}", detail, expected=False)
