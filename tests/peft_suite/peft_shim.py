"""pytest plugin for ``make peft-suite``: PEFT's own tests, with ``peft``'s public names served by ``core``.

Loaded with ``-p peft_shim`` before PEFT's test modules are imported, so ``from peft import LoraConfig,
get_peft_model, PeftModel, …`` in them binds our engine. Everything else (``peft.tuners…``, ``peft.utils…``,
the other methods) stays real peft. ``get_peft_model`` / ``inject_adapter_in_model`` hand a config of a method
we do not implement (VeRA, BOFT, …) to real peft, so those cases run as on PEFT and count as out of scope.

Environment: ``PEFT_SUITE_ENGINE=peft`` serves nothing (the baseline: real PEFT on the same files);
``PEFT_SUITE_REPORT=path.json`` receives ``{nodeid: [outcome, methods]}``.

Each case is filed under the methods it exercises: the config classes among its parameters, else the config
class names its test function's source mentions. A case with none is ``general``; a case that uses any
method we do not implement is ``out-of-scope``.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections import Counter, defaultdict

import peft as real_peft

import core

ENGINE = os.environ.get("PEFT_SUITE_ENGINE", "core")

# Offline, a case that asks the Hub for a model (PEFT's ``hub_online_once`` turns offline mode off for a model's
# first use) would wait about 20 s per request for huggingface_hub's retries (5, backing off 1-8 s) before it
# fails. run.py points ``HF_ENDPOINT`` at a closed local port (refused at once) and sets
# ``PEFT_SUITE_HUB_RETRIES=0``; here the retry count becomes that number, on both engines alike, so such a case
# fails in well under a second with the same error it would reach after the retries.
if os.environ.get("PEFT_SUITE_HUB_RETRIES") is not None:
    from huggingface_hub.utils import _http as _hub_http

    for _function in (_hub_http.http_backoff, _hub_http.http_stream_backoff, _hub_http._http_backoff_base):
        if _function.__kwdefaults__ and "max_retries" in _function.__kwdefaults__:
            _function.__kwdefaults__["max_retries"] = int(os.environ["PEFT_SUITE_HUB_RETRIES"])

# peft's public name -> ours (the methods' configs, the model classes, the free functions)
SERVED_CONFIGS = {
    "LoraConfig": "LORA", "AdaLoraConfig": "ADALORA", "IA3Config": "IA3", "PromptTuningConfig": "PROMPT_TUNING",
    "PromptEncoderConfig": "P_TUNING", "PrefixTuningConfig": "PREFIX_TUNING", "AdaptionPromptConfig": "ADAPTION_PROMPT",
}
SERVED = (*SERVED_CONFIGS, "PeftModel", "PeftModelForCausalLM", "get_peft_model", "get_peft_model_state_dict",
          "set_peft_model_state_dict", "inject_adapter_in_model", "get_layer_status", "get_model_status",
          "get_base_model_state_dict", "set_base_model_state_dict")
REAL = {name: getattr(real_peft, name) for name in SERVED}


def _ours(config) -> bool:
    return isinstance(config, core.PeftConfig)


def get_peft_model(model, peft_config, *args, **kwargs):
    if _ours(peft_config):
        return core.get_peft_model(model, peft_config, *args, **kwargs)
    return REAL["get_peft_model"](model, peft_config, *args, **kwargs)


def inject_adapter_in_model(peft_config, model, *args, **kwargs):
    if _ours(peft_config):
        return core.inject_adapter_in_model(peft_config, model, *args, **kwargs)
    return REAL["inject_adapter_in_model"](peft_config, model, *args, **kwargs)


if ENGINE == "core":
    for _name in SERVED:
        setattr(real_peft, _name, getattr(core, _name))
    real_peft.get_peft_model = get_peft_model
    real_peft.inject_adapter_in_model = inject_adapter_in_model
    # The two wrapper classes ``peft.utils`` exports (its ``__all__``), which PEFT's tests use in isinstance checks
    # to find an adapter's trained copy or token rows: ours, for modules our engine wrapped. Bound before PEFT's
    # test modules import them; real peft's own modules keep the classes they imported themselves.
    import peft.utils as _peft_utils
    from core.methods._trainable_tokens import TrainableTokensWrapper
    from core.modules_to_save import ModulesToSaveWrapper

    REAL_WRAPPERS = (_peft_utils.ModulesToSaveWrapper, _peft_utils.TrainableTokensWrapper)
    _peft_utils.ModulesToSaveWrapper = ModulesToSaveWrapper
    _peft_utils.TrainableTokensWrapper = TrainableTokensWrapper

    # ``PeftConfig.from_pretrained(folder)`` (PeftConfig itself, not a method's class) for a local file of one of
    # our methods: our loader, which builds our config class. ``PeftConfig`` stays real peft's class (serving ours
    # broke real peft's own cases: its methods' configs derive from it), so only this entry point is served.
    _real_from_pretrained = real_peft.PeftConfig.from_pretrained.__func__

    def _peft_config_from_pretrained(cls, pretrained_model_name_or_path, subfolder=None, **kwargs):
        if cls is real_peft.PeftConfig:
            folder = os.path.join(str(pretrained_model_name_or_path), subfolder or "")
            try:
                with open(os.path.join(folder, "adapter_config.json")) as fh:
                    method = json.load(fh).get("peft_type")
            except (OSError, ValueError, AttributeError):
                method = None
            if method in OUR_METHODS:
                return core.PeftConfig.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        return _real_from_pretrained(cls, pretrained_model_name_or_path, subfolder=subfolder, **kwargs)

    real_peft.PeftConfig.from_pretrained = classmethod(_peft_config_from_pretrained)

# every config class real peft exports (ours are named in SERVED_CONFIGS; the others are methods we do not implement)
ALL_CONFIGS = {name for name in dir(real_peft) if name.endswith("Config") and name not in ("PeftConfig", "PromptLearningConfig")}
OUR_METHODS = set(SERVED_CONFIGS.values())
_CONFIG_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*Config)\b")


def _methods_of(item) -> set[str]:
    names: set[str] = set()

    def walk(value, depth=0):
        if depth > 3:
            return
        if isinstance(value, type) and value.__name__ in ALL_CONFIGS:
            names.add(value.__name__)
        elif type(value).__name__ in ALL_CONFIGS:
            names.add(type(value).__name__)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, depth + 1)

    callspec = getattr(item, "callspec", None)
    if callspec is not None:
        for value in callspec.params.values():
            walk(value)
    if not names:
        try:
            source = inspect.getsource(item.function)
        except (OSError, TypeError):
            source = ""
        names = {n for n in _CONFIG_NAME.findall(source) if n in ALL_CONFIGS}
        if not names and getattr(item, "cls", None) is not None:
            # a test that calls a helper of its class (``self.check_vblora_load_no_warning(...)``): the helpers' configs
            for helper in set(re.findall(r"\bself\.(\w+)\(", source)):
                try:
                    names |= {n for n in _CONFIG_NAME.findall(inspect.getsource(getattr(item.cls, helper))) if n in ALL_CONFIGS}
                except (AttributeError, OSError, TypeError):
                    pass
    methods = set()
    for name in names:
        method = SERVED_CONFIGS.get(name)
        if method is None:
            return {"out-of-scope"}
        methods.add(method)
    return methods or {"general"}


# PEFT's test functions that check PEFT's private module state rather than public behaviour, filed as
# "peft-internal" (reported apart, neither passed nor failed) with the reason. They run all the same.
PEFT_INTERNAL = {
    # test_config.py: each monkeypatches `peft.config.__version__` and/or the private `peft.config._get_commit_hash`
    # and expects a new config's `peft_version` to be read from them (a dev version with "@<commit>" appended).
    # Our configs do not read PEFT's installed version: `peft_version` is the PEFT file format our files follow
    # (core.config.PEFT_FORMAT_VERSION), written on save and kept from the file when one is loaded -- the public
    # part, which tests/core/test_config_and_targeting.py checks.
    "test_peft_version_is_stored": "patches peft.config.__version__ (PEFT's installed version)",
    "test_peft_version_is_dev_version": "patches peft.config.__version__ and the private peft.config._get_commit_hash",
    "test_peft_version_is_dev_version_but_commit_hash_cannot_be_determined":
        "patches peft.config.__version__ and the private peft.config._get_commit_hash",
    "test_peft_version_warn_when_commit_hash_errors": "patches peft.config.__version__ and the private peft.config._get_commit_hash",
    # test_other.py: sets PEFT's private `_active_adapter` attribute of its ModulesToSaveWrapper to a name that does
    # not exist; our wrapper keeps its active adapters elsewhere (`active_adapters`), so the private name means nothing.
    "test_transient_attribute_access_non_existing_adapter": "sets the private ModulesToSaveWrapper._active_adapter",
    # test_lora_variants.py: build PEFT's own layer class (`peft.tuners.lora.layer.Linear`) or a subclass of its
    # LoraLayer and patch its private variant registry (`lora_variants`) to check PEFT's variant resolution; no
    # public behaviour of an engine is involved.
    "test_unregistered_variant_raises_error": "patches PEFT's layer-internal variant registry (lora_variants)",
    "test_invalid_variant_combination_raises_error": "patches PEFT's layer-internal variant registry (lora_variants)",
    "test_unsorted_variant_keys_raises_error": "patches PEFT's layer-internal variant registry (lora_variants)",
    "test_multiple_string_variants_in_init_lora_weights": "subclasses PEFT's LoraLayer to test its variant registry",
}


_results: dict[str, list] = {}
_methods: dict[str, set[str]] = {}


def pytest_collection_modifyitems(session, config, items):
    if ENGINE == "core":
        # PEFT's test modules that import the wrapper classes from their defining module (`from peft.utils.other
        # import ModulesToSaveWrapper`) bound real peft's class before the names above existed there: rebind those
        # names in the test modules only (real peft's own modules keep theirs, so its own wrapping is unchanged)
        import sys

        # and PEFT's LoRA layer base class (`from peft.tuners.lora.layer import LoraLayer`), which the tests use in
        # isinstance checks to find the adapted layers: ours holds the same public attributes (lora_A / lora_B /
        # lora_embedding_A / lora_embedding_B / r / scaling per adapter name)
        from peft.tuners.lora.layer import LoraLayer as _RealLoraLayer

        from core.methods.lora import LoraLayer as _OurLoraLayer

        # PEFT's base class of every tuner layer (`peft.tuners.tuners_utils.BaseTunerLayer`, an ABC), which the
        # tests use in isinstance checks to find all adapted layers and ask each for PEFT's public layer API
        # (`disable_adapters`, `enable_adapters`, `active_adapters`, `in_features` / `out_features`, …): our
        # adapter layers (all built on `AdapterSwitch`) are registered as virtual subclasses, so those checks see
        # them — without it such a test finds no layer and passes without checking anything
        from peft.tuners.tuners_utils import BaseTunerLayer as _RealBaseTunerLayer

        from core.methods._layer import AdapterSwitch

        _RealBaseTunerLayer.register(AdapterSwitch)

        served = {_peft_utils.ModulesToSaveWrapper.__name__: (REAL_WRAPPERS[0], ModulesToSaveWrapper),
                  _peft_utils.TrainableTokensWrapper.__name__: (REAL_WRAPPERS[1], TrainableTokensWrapper),
                  "LoraLayer": (_RealLoraLayer, _OurLoraLayer)}
        for name, module in list(sys.modules.items()):
            if name.startswith("peft_tests.") and module is not None:
                for attr, (real, ours) in served.items():
                    if getattr(module, attr, None) is real:
                        setattr(module, attr, ours)
    for item in items:
        methods = _methods_of(item)
        internal = getattr(item, "originalname", None) in PEFT_INTERNAL and "out-of-scope" not in methods
        _methods[item.nodeid] = {"peft-internal"} if internal else methods


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        outcome = "skipped" if report.skipped else report.outcome
        if report.when == "call" and hasattr(report, "wasxfail"):
            outcome = "xfail"
        _results[report.nodeid] = outcome
        if len(_results) % 250 == 0:  # a long run leaves usable partial results behind
            _write_report()


def _write_report() -> None:
    path = os.environ.get("PEFT_SUITE_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump({n: [o, sorted(_methods.get(n, {"general"}))] for n, o in _results.items()}, fh, indent=0)


def pytest_terminal_summary(terminalreporter):
    table: dict[str, Counter] = defaultdict(Counter)
    for nodeid, outcome in _results.items():
        for method in _methods.get(nodeid, {"general"}):
            table[method][outcome] += 1
    write = terminalreporter.write_line
    write("")
    write(f"peft-suite ({'our engine' if ENGINE == 'core' else 'real peft'}): outcomes per method")
    write(f"{'method':<16}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for method in sorted(table, key=lambda m: (m in ("general", "out-of-scope", "peft-internal"), m)):
        c = table[method]
        write(f"{method:<16}{c['passed']:>8}{c['failed']:>8}{c['skipped'] + c['xfail']:>9}")
    _write_report()
