"""Launching a run on several GPUs: the machine's GPUs, the ``accelerate launch`` config, the command
and a shell script that does the same launch elsewhere (a cluster node).

Standard library only, no torch at import: the studio's window imports this module to build its
"Train on several GPUs" dialog, and the GUI process never loads torch (docs/design.md).

- `detect_gpus` asks ``nvidia-smi`` (a subprocess, seconds at worst: call it off the GUI thread);
- `LaunchSpec` is what the person chose (how many processes, precision, port);
- `accelerate_config` is the YAML text ``accelerate launch --config_file`` reads — the file the
  person can see and save, written beside the run's checkpoints when the run starts;
- `launch_command` is the argv the studio starts (``python -m accelerate.commands.launch
  --config_file CFG -m core.worker PROJECT --run ID``), in its own session like the plain worker;
- `launch_script` is a bash script with the config inside it, for a terminal or a Slurm job.

The standalone (PyInstaller) bundle cannot run ``accelerate launch``: accelerate starts every rank
as ``sys.executable -m core.worker``, and the bundle's executable is no Python interpreter. It still
writes the config and the script (run them where Adapter Studio is installed with Python);
`launch_available` says so.

Two ways to use several GPUs (`LaunchSpec.sharding`):

- ``"ddp"``, data parallel (accelerate's ``MULTI_GPU``, PyTorch DDP): every GPU holds the whole model
  and its own adapter replica; gradients are averaged. The default: the model fits on one GPU.
- ``"fsdp"``, FSDP version 2 (``distributed_type: FSDP``): the model's weights are sharded across the
  GPUs, block by block (``TRANSFORMER_BASED_WRAP`` over the model's ``_no_split_modules``), for a
  model too big for one GPU. `core.train` puts the adapter in before sharding and gathers only the
  adapter's weights for checkpoints. Optimizer state is saved as a full state dict: an adapter's is
  small, and a full one resumes on any number of GPUs.
- ``"zero2"`` / ``"zero3"``, DeepSpeed ZeRO (``distributed_type: DEEPSPEED``, the ``deepspeed_config``
  keys inside accelerate's YAML): stage 2 shards the optimizer state and the gradients, stage 3 the
  weights too; ``offload_optimizer`` keeps the optimizer state in CPU memory (DeepSpeed's CPU Adam
  steps it there). DeepSpeed is optional: `deepspeed_available` says whether this Python has it and,
  if not, the command that installs it. What each choice saves per GPU: `core.estimate.per_gpu_memory`.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "Gpu",
    "LaunchSpec",
    "CONFIG_NAME",
    "SCRIPT_NAME",
    "DEFAULT_PORT",
    "detect_gpus",
    "parse_nvidia_smi",
    "resolve_precision",
    "accelerate_config",
    "launch_command",
    "launch_script",
    "launch_available",
    "deepspeed_available",
    "deepspeed_install_command",
    "slurm_script",
    "CHOICES",
]

CONFIG_NAME = "accelerate_config.yaml"
"""The config's file name in the run's folder (``<project>.artifacts/run-<id>/``)."""
SCRIPT_NAME = "launch.sh"
"""The launch script's file name in the run's folder."""
DEFAULT_PORT = 29500
"""torchrun's (and accelerate's) default rendezvous port; two runs on one machine need two ports."""
PRECISIONS = ("no", "fp16", "bf16")
SHARDINGS = ("ddp", "fsdp", "zero2", "zero3")
CHOICES = ("ddp", "fsdp", "zero2", "zero2+offload", "zero3", "zero3+offload")
"""The dialog's parallelism choices in its order: a sharding, ``+offload`` for the optimizer state in CPU memory."""
SLURM_SCRIPT_NAME = "launch.sbatch"
"""The Slurm batch script's default file name."""


@dataclass(frozen=True)
class Gpu:
    """One GPU as ``nvidia-smi`` reports it."""

    index: int
    """Its index among the GPUs this process may use (after ``CUDA_VISIBLE_DEVICES``)."""
    name: str
    memory_mib: int | None = None
    compute_capability: str | None = None
    """``"8.0"`` and up have bf16; None when the driver's nvidia-smi is too old to say."""

    @property
    def bf16(self) -> bool | None:
        """True when the GPU computes in bf16 (Ampere, compute capability 8.0, and newer)."""
        if not self.compute_capability:
            return None
        try:
            return float(self.compute_capability) >= 8.0
        except ValueError:
            return None

    def describe(self) -> str:
        memory = f", {self.memory_mib / 1024:.0f} GiB" if self.memory_mib else ""
        return f"{self.index}: {self.name}{memory}"


# --------------------------------------------------------------------------------------------------
# The GPUs


def parse_nvidia_smi(text: str, visible: str | None = None) -> list[Gpu]:
    """GPUs from ``nvidia-smi --query-gpu=index,name,memory.total,compute_cap,uuid
    --format=csv,noheader,nounits`` output (``compute_cap`` / ``uuid`` columns may be missing), limited
    to `visible` (``CUDA_VISIBLE_DEVICES``: indices or UUIDs, in that order; renumbered from 0 as CUDA
    does). ``visible=""`` means none; None means all."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        memory = int(float(cells[2])) if len(cells) > 2 and _number(cells[2]) else None
        capability = cells[3] if len(cells) > 3 and _number(cells[3]) else None
        uuid = cells[4] if len(cells) > 4 else ""
        rows.append((int(cells[0]), cells[1], memory, capability, uuid))
    if visible is not None:
        chosen = []
        for token in (t.strip() for t in visible.split(",")):
            if not token:
                continue
            match = [r for r in rows if (token.isdigit() and r[0] == int(token)) or (r[4] and r[4].startswith(token))]
            if not match:
                break  # CUDA stops at the first entry it cannot resolve
            chosen.append(match[0])
        rows = chosen
    return [Gpu(i, name, memory, capability) for i, (_, name, memory, capability, _) in enumerate(rows)]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def detect_gpus(*, timeout: float = 10.0, env: dict[str, str] | None = None,
                run: Callable[..., Any] = subprocess.run) -> list[Gpu]:
    """The NVIDIA GPUs this machine offers a worker (respecting ``CUDA_VISIBLE_DEVICES``); [] when there
    is no ``nvidia-smi``, it fails or it takes longer than `timeout` seconds. Never imports torch:
    the window asks this (on a worker thread) and must stay torch-free."""
    env = os.environ if env is None else env
    exe = shutil.which("nvidia-smi", path=env.get("PATH"))
    if exe is None:
        return []
    query = "index,name,memory.total,compute_cap,uuid"
    try:
        out = run([exe, f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                  capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:  # drivers before ~510 do not know compute_cap: ask without it
            out = run([exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                      capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            return []
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out.stdout, env.get("CUDA_VISIBLE_DEVICES"))


# --------------------------------------------------------------------------------------------------
# The launch


@dataclass(frozen=True)
class LaunchSpec:
    """How to launch: what the dialog's controls say."""

    num_processes: int = 2
    """Processes, one per GPU (data parallel)."""
    mixed_precision: str = "no"
    """accelerate's value: ``"no"``, ``"fp16"``, ``"bf16"`` (see `resolve_precision`)."""
    main_process_port: int = DEFAULT_PORT
    gpu_ids: str = "all"
    """Which GPUs: ``"all"`` or ``"0,1"`` (indices after ``CUDA_VISIBLE_DEVICES``)."""
    use_cpu: bool = False
    """Train on the CPU (one process): for tests and machines without GPUs."""
    sharding: str = "ddp"
    """``"ddp"`` (each GPU holds the whole model), ``"fsdp"`` (FSDP2 shards it), ``"zero2"`` / ``"zero3"``
    (DeepSpeed ZeRO stage 2 / 3); one process: none of them."""
    offload_optimizer: bool = False
    """DeepSpeed only: keep the optimizer state in CPU memory (ZeRO-Offload) instead of on the GPUs."""

    def __post_init__(self) -> None:
        if self.sharding not in SHARDINGS:
            raise ValueError(f"sharding must be one of {', '.join(SHARDINGS)}, not {self.sharding!r}")
        if self.offload_optimizer and self.zero_stage is None:
            raise ValueError(f"offload_optimizer is a DeepSpeed ZeRO setting (sharding zero2 or zero3), not {self.sharding!r}")
        if self.num_processes < 1:
            raise ValueError(f"num_processes must be at least 1, not {self.num_processes}")
        if self.mixed_precision not in PRECISIONS:
            raise ValueError(f"mixed_precision must be one of {', '.join(PRECISIONS)}, not {self.mixed_precision!r}")
        if not 1 <= self.main_process_port <= 65535:
            raise ValueError(f"main_process_port must be a TCP port (1-65535), not {self.main_process_port}")
        if self.use_cpu and self.num_processes != 1:
            # accelerate 1.15 starts only one process for --cpu --num_processes N (measured; docs/design.md).
            raise ValueError("a CPU launch runs one process (accelerate starts only one); use torchrun for CPU ranks")

    @classmethod
    def for_gpus(cls, n: int, gpus: list[Gpu], precision_setting: str = "auto", *,
                 port: int = DEFAULT_PORT, use_cpu: bool = False, sharding: str = "ddp",
                 offload_optimizer: bool = False) -> "LaunchSpec":
        """The launch on the first `n` of `gpus` with the run's ``mixed_precision`` setting. `sharding` may
        be one of `CHOICES` (``"zero3+offload"``: ZeRO-3 with `offload_optimizer`)."""
        if sharding.endswith("+offload"):
            sharding, offload_optimizer = sharding.removesuffix("+offload"), True
        ids = "all" if use_cpu or n >= len(gpus) else ",".join(str(g.index) for g in gpus[:n])
        return cls(num_processes=n, mixed_precision=resolve_precision(precision_setting, gpus[:n], use_cpu=use_cpu),
                   main_process_port=port, gpu_ids=ids, use_cpu=use_cpu, sharding=sharding,
                   offload_optimizer=offload_optimizer)

    @property
    def zero_stage(self) -> int | None:
        """DeepSpeed's ZeRO stage (2 or 3), None for DDP and FSDP."""
        return {"zero2": 2, "zero3": 3}.get(self.sharding)

    @property
    def choice(self) -> str:
        """The `CHOICES` entry this launch is (``"zero2+offload"``...)."""
        return self.sharding + ("+offload" if self.offload_optimizer else "")

    @property
    def uses_deepspeed(self) -> bool:
        """True when the launch runs DeepSpeed (ZeRO on two or more processes)."""
        return self.distributed_type == "DEEPSPEED"

    @property
    def distributed_type(self) -> str:
        if self.num_processes == 1:
            return "NO"
        if self.zero_stage is not None:
            return "DEEPSPEED"
        return "FSDP" if self.sharding == "fsdp" else "MULTI_GPU"


def resolve_precision(setting: str, gpus: list[Gpu], *, use_cpu: bool = False) -> str:
    """The run's ``TrainingArguments.mixed_precision`` as accelerate's value. ``auto`` follows the loop's
    own rule (bf16 where the GPU has it, else fp16; none on the CPU), decided here from nvidia-smi's
    compute capability (fp16 when it is unknown). The loop passes its precision to ``Accelerator``
    itself, so the config only says the same thing where people (and ``accelerate env``) read it."""
    if use_cpu:
        return "no"
    if setting in PRECISIONS:
        return setting
    if setting == "auto":
        return "bf16" if gpus and all(g.bf16 for g in gpus) else "fp16"
    raise ValueError(f"unknown mixed_precision setting {setting!r}")


def accelerate_config(spec: LaunchSpec) -> str:
    """The YAML text of an accelerate config for `spec` (what ``accelerate config`` would write, with
    comments). Loads with ``accelerate.commands.config.config_args.load_config_from_file``."""

    def q(value: str) -> str:  # single-quoted YAML scalar: 'no' must stay a string, not false
        return "'" + value.replace("'", "''") + "'"

    how = {"NO": "", "MULTI_GPU": ", data parallel (DDP)", "FSDP": ", the model sharded across them (FSDP2)",
           "DEEPSPEED": f", DeepSpeed ZeRO-{spec.zero_stage}" + (" with the optimizer state in CPU memory"
                                                                 if spec.offload_optimizer else "")}[spec.distributed_type]
    lines = [
        "# accelerate launch config written by Adapter Studio (core/launch.py).",
        f"# {spec.num_processes} process{'es' if spec.num_processes != 1 else ''}"
        + (" on the CPU." if spec.use_cpu else f", one per GPU{how}; gpu_ids {spec.gpu_ids}."),
        "# Use it: accelerate launch --config_file THIS_FILE -m core.worker PROJECT --run RUN_ID",
        "compute_environment: LOCAL_MACHINE",
        f"distributed_type: {q(spec.distributed_type)}",  # quoted: a bare NO is YAML 1.1's false
        f"num_processes: {spec.num_processes}",
        "num_machines: 1",
        "machine_rank: 0",
        f"gpu_ids: {q(spec.gpu_ids)}",
        "# The rendezvous port on this machine; two runs at once need two ports.",
        f"main_process_port: {spec.main_process_port}",
        "rdzv_backend: static",
        "same_network: true",
        "# The run's precision setting; the training loop hands the same value to Accelerator.",
        f"mixed_precision: {q(spec.mixed_precision)}",
        "downcast_bf16: 'no'",
        f"use_cpu: {'true' if spec.use_cpu else 'false'}",
        "debug: false",
        "enable_cpu_affinity: false",
        "main_training_function: main",
        "tpu_env: []",
        "tpu_use_cluster: false",
        "tpu_use_sudo: false",
    ]
    if spec.distributed_type == "FSDP":
        lines += [
            "fsdp_config:",
            "  fsdp_version: 2",
            "  # one FSDP unit per transformer block (the model's _no_split_modules)",
            "  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP",
            "  fsdp_reshard_after_forward: true",
            "  fsdp_offload_params: false",
            "  # the adapter's optimizer state is small: saved whole, it resumes on any number of GPUs",
            "  fsdp_state_dict_type: FULL_STATE_DICT",
            "  # every process loads the model, then it is sharded (the adapter goes in first)",
            "  fsdp_cpu_ram_efficient_loading: false",
            "  fsdp_activation_checkpointing: false",
        ]
    if spec.distributed_type == "DEEPSPEED":
        stage = spec.zero_stage
        shards = "the optimizer state and the gradients" if stage == 2 else "the weights, the gradients and the optimizer state"
        lines += [
            "# DeepSpeed (accelerate writes the DeepSpeed config from these keys; a deepspeed_config_file: PATH",
            "# to a DeepSpeed JSON could stand here instead). Needs DeepSpeed installed where this runs.",
            "deepspeed_config:",
            f"  # ZeRO stage {stage}: {shards} split across the processes",
            f"  zero_stage: {stage}",
            "  # " + ("the optimizer state in CPU memory; DeepSpeed's CPU Adam steps it there (compiled on first use)"
                      if spec.offload_optimizer else "the optimizer state stays on the GPUs (cpu: keep it in CPU memory)"),
            f"  offload_optimizer_device: {'cpu' if spec.offload_optimizer else 'none'}",
            "  offload_param_device: none",
            "  # the model is loaded whole, the adapter put in, then DeepSpeed shards it (no zero.Init at load)",
            "  zero3_init_flag: false",
            "  # a checkpoint gathers the weights on process 0 and keeps the adapter's (core/checkpoint.py);",
            "  # under ZeRO-3 DeepSpeed gathers them only with this set",
            f"  zero3_save_16bit_model: {'true' if stage == 3 else 'false'}",
            "  # gradient_accumulation_steps and gradient_clipping are left out: the run's own values are used",
            "  deepspeed_multinode_launcher: standard",
        ]
    return "\n".join(lines) + "\n"


def launch_available() -> tuple[bool, str]:
    """Whether this program can start ``accelerate launch`` itself, and if not, why (for the dialog)."""
    if getattr(sys, "frozen", False):
        return False, (
            "The standalone bundle cannot start accelerate launch: accelerate starts every process as "
            "'python -m core.worker', and the bundle has no Python interpreter. Save the launch script and run "
            "it where Adapter Studio is installed with Python (pipx install adapter-studio), or train on one GPU here."
        )
    return True, ""


def deepspeed_install_command(python: str | None = None) -> str:
    """The command that installs DeepSpeed into `python`'s environment (this program's by default):
    DeepSpeed ships as source; ``DS_BUILD_OPS=0`` builds none of its CUDA/C++ ops at install (each is
    compiled the first time it is used) and ``--no-build-isolation`` lets its build see the torch that
    is already installed."""
    if python is None:
        python = "python3" if getattr(sys, "frozen", False) else sys.executable
    return f"DS_BUILD_OPS=0 {shlex.quote(str(python))} -m pip install --no-build-isolation deepspeed"


def deepspeed_available() -> tuple[bool, str]:
    """Whether this Python can import DeepSpeed (looked up, not imported: importing it loads torch, and
    the window never does), and if not, what to do (for the dialog)."""
    try:
        found = importlib.util.find_spec("deepspeed") is not None
    except (ImportError, ValueError):  # a broken install, or an entry in sys.modules set to None
        found = False
    if found:
        return True, ""
    return False, ("DeepSpeed is not installed for this Python, so the ZeRO choices are off. Install it with:\n"
                   + deepspeed_install_command())


def launch_command(project_path: str | os.PathLike[str], run_id: int, config_path: str | os.PathLike[str],
                   *, python: str | None = None) -> list[str]:
    """The argv that launches the worker on a run through accelerate (start it in its own session,
    like `core.worker.worker_command`). ``-m accelerate.commands.launch`` rather than the
    ``accelerate`` console script: the script may not be on PATH (a venv that is not activated)."""
    return [
        python or sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_path),
        "-m", "core.worker", str(Path(project_path).absolute()), "--run", str(run_id),
    ]


_NEW_RUN_PY = """\
import sys
from core.runs import prepare_run
from core.store import Project
with Project.open(sys.argv[1]) as project:
    print(prepare_run(project))
"""


def source_tree() -> Path | None:
    """The source checkout this program runs from (to put on a launch script's PYTHONPATH), or None
    when it is an installed package (site-packages / dist-packages: the interpreter finds it)."""
    root = Path(__file__).resolve().parent.parent
    return None if {"site-packages", "dist-packages"} & set(root.parts) else root


def slurm_script(project_path: str | os.PathLike[str], run_id: int | None, spec: LaunchSpec, *,
                 python: str | None = None, source_root: str | os.PathLike[str] | None = None) -> str:
    """`launch_script` as a Slurm batch script: ``sbatch THIS_FILE`` asks for one node with the GPUs
    (``#SBATCH`` lines, which bash reads as comments: it still runs with ``bash``)."""
    return launch_script(project_path, run_id, spec, python=python, source_root=source_root, slurm=True)


def launch_script(project_path: str | os.PathLike[str], run_id: int | None, spec: LaunchSpec, *,
                  python: str | None = None, source_root: str | os.PathLike[str] | None = None,
                  slurm: bool = False) -> str:
    """A bash script that does the launch: the config inside it (a here-document written to a temporary
    file), paths quoted, comments on running it in a terminal or under Slurm. ``run_id=None``: each
    execution creates a new run from the project's current settings (as Train does); otherwise it
    trains (resumes) that run. `source_root`: a source tree to put on PYTHONPATH (`source_tree()`:
    this program's checkout, None for an installed package)."""
    project = Path(project_path).absolute()
    if python is None:
        python = "python3" if getattr(sys, "frozen", False) else sys.executable
    n = spec.num_processes
    what = f"run {run_id}" if run_id is not None else "a new run"
    config = accelerate_config(spec)
    if "\nACCELERATE_CONFIG\n" in "\n" + config:
        raise ValueError("the config contains the here-document's end marker")
    gpus = "the CPU" if spec.use_cpu else f"{n} GPU{'s' if n != 1 else ''}"
    slurm_gpus = "" if spec.use_cpu else f" --gpus-per-node={n}"
    out = ["#!/usr/bin/env bash"]
    if slurm:
        # sbatch reads #SBATCH lines up to the first command. One task: accelerate starts the N processes.
        # B:TERM@300: SIGTERM to the batch shell (the launcher, after exec) five minutes before the limit.
        job = f"adapter-studio-run-{run_id}" if run_id is not None else "adapter-studio"
        out += [
            f"#SBATCH --job-name={job}",
            "#SBATCH --nodes=1",
            "#SBATCH --ntasks=1",
        ]
        if not spec.use_cpu:
            out.append(f"#SBATCH --gpus-per-node={n}")
        out += [
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --signal=B:TERM@300",
            "#SBATCH --output=%x-%j.log",
            "# Add your cluster's partition, account and time limit (#SBATCH --partition=... --time=...).",
        ]
    out += [
        f"# Adapter Studio: train {what} of {project.name} on {gpus} with Hugging Face Accelerate.",
        f"# Written by Adapter Studio on {time.strftime('%Y-%m-%d %H:%M')}; the same launch as the studio's",
        "# \"Train on several GPUs\" dialog.",
        "#",
        "# Run it here:   bash THIS_SCRIPT",
        "# Run it on a Slurm cluster, one node (accelerate starts the processes itself: one task, not N):",
        f"#   srun --nodes=1 --ntasks=1{slurm_gpus} --cpus-per-task=8 bash THIS_SCRIPT",
        f"#   sbatch --nodes=1 --ntasks=1{slurm_gpus} --signal=B:TERM@300 THIS_SCRIPT"
        + ("   (the #SBATCH lines above say the same)" if slurm else ""),
        "# SIGTERM (kill, scancel, or --signal=B:TERM@300: five minutes before the time limit) makes every process",
        "# finish its step, write a checkpoint and stop; RUN_ID=<the run> bash THIS_SCRIPT resumes it. The script",
        "# ends by exec'ing the launcher, so the signal reaches it; for several processes it passes SIGTERM on",
        "# and waits for them. (For one process accelerate's launcher does not pass it on: signal the worker.)",
        "# In a terminal, type stop, pause or continue (and Enter) to control the run.",
        "# Several nodes (not prepared by the studio): one copy per node (srun --nodes=K --ntasks-per-node=1),",
        "# with --num_machines K --machine_rank \"$SLURM_NODEID\" --main_process_ip <the first node> added to the",
        "# launch line below and num_processes in the config set to the GPUs of all nodes together.",
        "#",
        "# Override from the environment:",
        "#   PYTHON   the Python of an environment where Adapter Studio (or its requirements) is installed",
        "#   PROJECT  the project file. The worker writes it (SQLite, write-ahead log), which needs a local",
        "#            disk, not NFS: on a cluster copy it to the node's local disk, train, and copy it back",
        "#            (with its .artifacts folder: the checkpoints).",
        f"#   RUN_ID   the run to train or resume (\"new\": a new run from the project's current settings)",
        "#   MAIN_PROCESS_PORT  the rendezvous port (two runs on one machine need two ports)",
        "#",
        "# Progress: one JSON line per event on stdout (core/protocol.py); everything is also recorded in",
        "# the project file: open it in the studio (it re-attaches to a live run) or: adapter-studio runs PROJECT",
        "set -euo pipefail",
        "",
        f"DEFAULT_PYTHON={shlex.quote(str(python))}",
        f"DEFAULT_PROJECT={shlex.quote(str(project))}",
        'PYTHON="${PYTHON:-$DEFAULT_PYTHON}"',
        'PROJECT="${PROJECT:-$DEFAULT_PROJECT}"',
        f'RUN_ID="${{RUN_ID:-{run_id if run_id is not None else "new"}}}"',
        f'MAIN_PROCESS_PORT="${{MAIN_PROCESS_PORT:-{spec.main_process_port}}}"',
        "",
        "export PYTHONUNBUFFERED=1  # protocol lines leave at once",
    ]
    if source_root is not None:
        out += [
            "# The worker's code, from the source tree the studio ran from (drop this if Adapter Studio is installed).",
            f"export PYTHONPATH={shlex.quote(str(source_root))}\"${{PYTHONPATH:+:$PYTHONPATH}}\"",
        ]
    if spec.uses_deepspeed:
        out += [
            "",
            "# DeepSpeed is not one of Adapter Studio's requirements: say how to install it rather than fail later.",
            "if ! \"$PYTHON\" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec(\"deepspeed\") is None)'; then",
            '  echo "adapter-studio: DeepSpeed is not installed for $PYTHON. Install it with:" >&2',
            "  echo \"  DS_BUILD_OPS=0 $PYTHON -m pip install --no-build-isolation deepspeed\" >&2",
            "  exit 1",
            "fi",
        ]
    out += [
        "",
        "# The worker runs beside the project file: relative dataset paths are relative to it.",
        'PROJECT="$(cd "$(dirname "$PROJECT")" && pwd)/$(basename "$PROJECT")"',
        'cd "$(dirname "$PROJECT")"',
        "",
        'if [[ "$RUN_ID" == new ]]; then',
        "  # A new run with a snapshot of the project's settings (what Train does in the studio).",
        "  RUN_ID=\"$(\"$PYTHON\" - \"$PROJECT\" <<'PY'",
        _NEW_RUN_PY.rstrip("\n"),
        "PY",
        '  )"',
        '  echo "adapter-studio: created run $RUN_ID" >&2',
        "fi",
        "",
        "# The config goes where the studio puts it: beside the run's checkpoints.",
        'RUN_DIR="$PROJECT.artifacts/run-$RUN_ID"',
        'mkdir -p "$RUN_DIR"',
        f'CONFIG="$RUN_DIR/{CONFIG_NAME}"',
        "cat >\"$CONFIG\" <<'ACCELERATE_CONFIG'",
        config.rstrip("\n"),
        "ACCELERATE_CONFIG",
        "",
        'exec "$PYTHON" -m accelerate.commands.launch --config_file "$CONFIG" --main_process_port "$MAIN_PROCESS_PORT" \\',
        '  -m core.worker "$PROJECT" --run "$RUN_ID"',
        "",
    ]
    return "\n".join(out)
