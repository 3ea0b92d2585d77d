"""Adapter types, task types, the shared config base, and `adapter_config.json` in and out.

Each method's config is a dataclass in its own file under ``core/methods``; this module holds what
they share: the JSON round trip in PEFT's format (``indent=2, sort_keys=True``, ``inference_mode``
always written as ``true``) and the rules for reading a file written by another PEFT version.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"
PICKLED_WEIGHTS_NAME = "adapter_model.bin"
# Written into adapter_config.json; PEFT reads it only to warn about files from a newer PEFT.
PEFT_FORMAT_VERSION = "0.21.2"


class PeftType(str, enum.Enum):
    """The adapter methods, with PEFT's names (value == name)."""

    PROMPT_TUNING = "PROMPT_TUNING"
    P_TUNING = "P_TUNING"
    PREFIX_TUNING = "PREFIX_TUNING"
    LORA = "LORA"
    ADALORA = "ADALORA"
    ADAPTION_PROMPT = "ADAPTION_PROMPT"
    IA3 = "IA3"


class TaskType(str, enum.Enum):
    """What the adapted model is for; decides the model wrapper and default heads, as in PEFT."""

    SEQ_CLS = "SEQ_CLS"
    SEQ_2_SEQ_LM = "SEQ_2_SEQ_LM"
    CAUSAL_LM = "CAUSAL_LM"
    TOKEN_CLS = "TOKEN_CLS"
    QUESTION_ANS = "QUESTION_ANS"
    FEATURE_EXTRACTION = "FEATURE_EXTRACTION"


class _ConfigType(type):
    """Lets a config take PEFT's ``peft_type=`` keyword, which PEFT accepts on every config and then replaces
    with the class's own method (code written for PEFT passes it, e.g. ``AdaLoraConfig(peft_type="ADALORA")``).
    The class's own method is taken as given; any other value is dropped with a warning, never silently."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if "peft_type" in kwargs:
            given = kwargs.pop("peft_type")
            own = getattr(cls, "peft_type", None)
            if own is not None and given not in (own, own.value):
                warnings.warn(f"peft_type={given!r} is ignored: a {cls.__name__} is always {own.value} "
                              f"(PEFT replaces the value the same way).", UserWarning, stacklevel=2)
        return super().__call__(*args, **kwargs)


@dataclass
class PeftConfig(metaclass=_ConfigType):
    """Fields every adapter config has. Subclasses add their method's fields.

    Subclasses set ``peft_type`` as a class variable and may list PEFT fields they do not implement in
    ``UNSUPPORTED_DEFAULTS`` (field -> the value meaning "feature off"): a file that sets such a field to
    anything else is refused instead of being silently mis-read.
    """

    peft_type: ClassVar[PeftType]
    UNSUPPORTED_DEFAULTS: ClassVar[dict[str, Any]] = {}

    task_type: TaskType | str | None = field(default=None, metadata={"help": "What the model is for, e.g. CAUSAL_LM."})
    base_model_name_or_path: str | None = field(default=None, metadata={"help": "The base model this adapter belongs to."})
    revision: str | None = field(default=None, metadata={"help": "Revision of the base model."})
    inference_mode: bool = field(default=False, metadata={"help": "Loaded for inference only (adapter frozen)."})
    # The PEFT version whose format the file follows (PEFT's field): ours for a new config, the file's when loaded.
    # Not a setting (init=False: the forms leave it out); from_dict restores it.
    peft_version: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.peft_version is None:
            self.peft_version = PEFT_FORMAT_VERSION
        if isinstance(self.task_type, str):
            try:
                self.task_type = TaskType(self.task_type)
            except ValueError:
                allowed = ", ".join(t.value for t in TaskType)
                # PEFT's sentence first (code written for PEFT matches it), then ours
                raise ConfigError(f"Invalid task type: '{self.task_type}'. Must be one of the following task types: "
                                  f"{allowed}. (task_type {self.task_type!r} is not one of them.)") from None

    def check_complete(self) -> None:
        """Raise :class:`ConfigError` naming a setting this method cannot work without that is still empty.

        PEFT accepts such a config (it can be written, read, copied and pickled with the setting left ``None``)
        and fails only when an adapter is built from it; so do we: every place that builds an adapter (or a run)
        from a config calls this first. The base config needs nothing."""

    @property
    def is_prompt_learning(self) -> bool:
        """True for methods that add virtual tokens instead of changing layers."""
        return self.peft_type in (PeftType.PROMPT_TUNING, PeftType.P_TUNING, PeftType.PREFIX_TUNING)

    # ---- JSON in and out -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The config as PEFT writes it: enums as strings, sets as sorted lists, plus ``peft_type``."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            out[f.name] = _jsonable(getattr(self, f.name))
        out["peft_type"] = self.peft_type.value
        return out

    def to_json(self, *, as_adapter: bool = True) -> str:
        """The text of ``adapter_config.json``. ``as_adapter`` (a saved adapter, as ``PeftModel.save_pretrained``
        writes it): ``inference_mode`` true, since loading decides trainability; otherwise the config as it is
        (``PeftConfig.save_pretrained``, as PEFT)."""
        data = self.to_dict()
        if as_adapter:
            data["inference_mode"] = True
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, directory: str | os.PathLike, **kwargs: Any) -> Path:
        """Write ``adapter_config.json`` (the config as it is) into ``directory`` (created if needed); returns the
        file path. PEFT's ``subfolder=`` is honoured; any other keyword is refused."""
        subfolder = kwargs.pop("subfolder", None)
        if kwargs:
            raise TypeError(f"save_pretrained() got unknown keyword argument(s) {', '.join(sorted(kwargs))}; accepted: subfolder.")
        directory = Path(directory) / subfolder if subfolder else Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / CONFIG_NAME
        path.write_text(self.to_json(as_adapter=False), encoding="utf-8")
        return path

    @classmethod
    def from_json_file(cls, path_json_file: str | os.PathLike, **kwargs: Any) -> dict[str, Any]:
        """The JSON object of a config file, as PEFT returns it (a dict; build a config with ``from_pretrained``).
        A ``runtime_config`` entry (PEFT's settings for one session only) is dropped with a warning, as PEFT."""
        path = Path(path_json_file)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}).") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config file holds a JSON object, not {type(data).__name__}.")
        if "runtime_config" in data:
            warnings.warn(f"{path}: the configuration file contains a `runtime_config` key. This is ignored: runtime "
                          f"settings are only valid for the session that set them.", stacklevel=2)
            del data["runtime_config"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "PeftConfig":
        """Build a config from a dict (PEFT's key names). Unknown keys are ignored with a warning."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        ignored: list[str] = []
        for key, value in data.items():
            # auto_mapping: PEFT writes the base model's class here when task_type is None; informational only.
            # runtime_config: PEFT's per-session settings, never meant to be in a file
            if key in ("peft_type", "peft_version", "auto_mapping", "runtime_config"):
                continue
            if key in names:
                kwargs[key] = value
            elif key in cls.UNSUPPORTED_DEFAULTS:
                if value != cls.UNSUPPORTED_DEFAULTS[key] and value not in (None, {}, []):
                    raise ConfigError(
                        f"{source}: '{key}' is set to {value!r}; Adapter Studio does not support this "
                        f"{cls.peft_type.value} feature, so the adapter cannot be loaded faithfully."
                    )
            else:
                ignored.append(key)
        if ignored:
            # PEFT's sentence first (code written for PEFT matches it), then where and why
            message = (f"Unexpected keyword arguments {sorted(ignored)!r} for class {cls.__name__}, these are ignored. "
                       f"({source}: written by a newer PEFT?)")
            log.warning(message)
            warnings.warn(message, stacklevel=2)
        config = cls(**kwargs)
        if isinstance(data.get("peft_version"), str):
            config.peft_version = data["peft_version"]  # the version that wrote the file, as PEFT keeps it
        return config

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, subfolder: str | None = None,
                        **kwargs: Any) -> "PeftConfig":
        """Read ``adapter_config.json`` from a folder (``subfolder`` inside it) into the right method's config class.

        PEFT's download keywords (``revision``, ``token``, ``cache_dir``, ...) are accepted and change nothing for a
        local folder; any other keyword is refused (PEFT does not take config overrides here either).
        """
        # Late: the factory (`core.methods`) sits above this module; the method files import this one.
        from core.methods.registry import load_config

        unknown = sorted(set(kwargs) - HUB_KEYWORDS)
        if unknown:
            raise TypeError(f"from_pretrained() got unknown keyword argument(s) {', '.join(unknown)}; accepted: "
                            f"subfolder, {', '.join(sorted(HUB_KEYWORDS))}. To change a setting, set it on the loaded config.")
        from core.methods.registry import MissingKeysError

        folder = Path(pretrained_model_name_or_path)
        try:
            config = load_config(folder / subfolder if subfolder else folder)
        except MissingKeysError as exc:  # PEFT's sentence names the class asked for
            raise MissingKeysError(str(exc).replace("The config", f"The {cls.__name__} config", 1)) from None
        if cls is not PeftConfig and not isinstance(config, cls):
            raise ConfigError(f"{folder}: holds a {config.peft_type.value} config, not a {cls.__name__}; read it with "
                              f"PeftConfig.from_pretrained.")
        return config


# The Hub download options PEFT's loaders accept; for a local folder they change nothing.
HUB_KEYWORDS = frozenset({"revision", "token", "use_auth_token", "cache_dir", "local_files_only", "force_download",
                          "proxies", "resume_download", "user_agent"})


def normalise_names(value: Any, what: str) -> list[str] | str | None:
    """A module-name field as PEFT keeps it: lists become sorted unique lists (PEFT's sets); a string stays a regex."""
    if value is None or isinstance(value, str):
        return value
    try:
        return sorted({str(v) for v in value})
    except TypeError:
        raise ConfigError(f"{what} must be a list of names or a regex string, got {value!r}.") from None


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value
