"""Several GPUs: core.launch (GPU detection, the accelerate config, the command, the launch script) and
the studio's launch dialog (GPU count given to the constructor / the controller, never patched in),
down to a real ``accelerate launch`` of tiny-llama on the CPU that finishes in the window."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.launch import (
    CONFIG_NAME,
    SCRIPT_NAME,
    Gpu,
    LaunchSpec,
    accelerate_config,
    detect_gpus,
    launch_command,
    launch_script,
    parse_nvidia_smi,
    resolve_precision,
)

H200 = [Gpu(i, "NVIDIA H200", 143771, "9.0") for i in range(4)]
V100 = [Gpu(0, "Tesla V100-SXM2-16GB", 16384, "7.0"), Gpu(1, "Tesla V100-SXM2-16GB", 16384, "7.0")]
FAKE = str(Path(__file__).with_name("fake_worker.py"))
RUN_TIMEOUT_MS = 90_000
MAX_STEPS = 20


def load_accelerate(path: Path):
    from accelerate.commands.config.config_args import load_config_from_file

    return load_config_from_file(str(path))


# ---- core.launch ---------------------------------------------------------------------------------


def test_config_parses_back_with_yaml_and_accelerate(tmp_path):
    spec = LaunchSpec.for_gpus(2, H200, "auto", port=29511)
    text = accelerate_config(spec)
    data = yaml.safe_load(text)
    assert data["distributed_type"] == "MULTI_GPU" and data["num_processes"] == 2
    assert data["gpu_ids"] == "0,1" and data["main_process_port"] == 29511 and data["mixed_precision"] == "bf16"
    assert data["use_cpu"] is False and data["downcast_bf16"] == "no"  # 'no' stays a string, not false
    path = tmp_path / CONFIG_NAME
    path.write_text(text)
    config = load_accelerate(path)
    assert config.distributed_type == "MULTI_GPU" and config.num_processes == 2 and config.mixed_precision == "bf16"
    # all GPUs -> gpu_ids all; one process -> no distribution (a bare NO would be YAML's false)
    assert yaml.safe_load(accelerate_config(LaunchSpec.for_gpus(4, H200)))["gpu_ids"] == "all"
    one = yaml.safe_load(accelerate_config(LaunchSpec.for_gpus(1, H200, "no")))
    assert one["distributed_type"] == "NO" and one["num_processes"] == 1 and one["mixed_precision"] == "no"
    fsdp = tmp_path / "fsdp.yaml"
    fsdp.write_text(accelerate_config(LaunchSpec.for_gpus(4, H200, "bf16", sharding="fsdp")))
    config = load_accelerate(fsdp)
    assert config.distributed_type == "FSDP" and config.fsdp_config["fsdp_version"] == 2
    assert config.fsdp_config["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert LaunchSpec.for_gpus(1, H200, sharding="fsdp").distributed_type == "NO"
    cpu = tmp_path / "cpu.yaml"
    cpu.write_text(accelerate_config(LaunchSpec.for_gpus(1, [], "auto", use_cpu=True)))
    assert load_accelerate(cpu).use_cpu is True


def test_precision_and_spec_checks():
    assert resolve_precision("auto", H200) == "bf16" and resolve_precision("auto", V100) == "fp16"
    assert resolve_precision("auto", [Gpu(0, "old", None, None)]) == "fp16"  # unknown capability: the safe one
    assert resolve_precision("fp16", H200) == "fp16" and resolve_precision("bf16", [], use_cpu=True) == "no"
    with pytest.raises(ValueError, match="one process"):
        LaunchSpec(num_processes=2, use_cpu=True)
    with pytest.raises(ValueError, match="num_processes"):
        LaunchSpec(num_processes=0)
    with pytest.raises(ValueError, match="mixed_precision"):
        LaunchSpec(mixed_precision="fp8")
    with pytest.raises(ValueError, match="sharding"):
        LaunchSpec(sharding="zero1")


def test_gpus_from_nvidia_smi(tmp_path):
    text = ("0, NVIDIA H200, 143771, 9.0, GPU-aaaa\n1, NVIDIA H200, 143771, 9.0, GPU-bbbb\n"
            "2, Tesla V100, 16384, 7.0, GPU-cccc\n")
    assert [g.index for g in parse_nvidia_smi(text)] == [0, 1, 2]
    # CUDA_VISIBLE_DEVICES: indices or UUID prefixes, renumbered from 0 in that order; "" = none
    assert [(g.index, g.name) for g in parse_nvidia_smi(text, "2,0")] == [(0, "Tesla V100"), (1, "NVIDIA H200")]
    assert [g.name for g in parse_nvidia_smi(text, "GPU-bbbb")] == ["NVIDIA H200"] and parse_nvidia_smi(text, "") == []
    assert parse_nvidia_smi(text)[2].bf16 is False and parse_nvidia_smi(text)[0].bf16 is True
    # detect_gpus runs the nvidia-smi it finds on PATH (here a stand-in script); none on PATH -> []
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\nprintf '0, NVIDIA H200, 143771, 9.0, GPU-aaaa\\n1, NVIDIA H200, 143771, 9.0, GPU-bbbb\\n'\n")
    fake.chmod(0o755)
    gpus = detect_gpus(env={"PATH": str(tmp_path)})
    assert [g.describe() for g in gpus] == ["0: NVIDIA H200, 140 GiB", "1: NVIDIA H200, 140 GiB"]
    assert len(detect_gpus(env={"PATH": str(tmp_path), "CUDA_VISIBLE_DEVICES": "1"})) == 1
    assert detect_gpus(env={"PATH": str(tmp_path / "nowhere")}) == []


def test_command_and_script(tmp_path):
    project = tmp_path / "my project" / "p.adapterstudio"
    argv = launch_command(project, 3, tmp_path / "c.yaml", python="/venv/bin/python")
    assert argv == ["/venv/bin/python", "-m", "accelerate.commands.launch", "--config_file", str(tmp_path / "c.yaml"),
                    "-m", "core.worker", str(project), "--run", "3"]
    spec = LaunchSpec.for_gpus(2, H200, "auto")
    script = launch_script(project, 3, spec, python="/opt/my env/bin/python", source_root="/src/adapter studio")
    path = tmp_path / SCRIPT_NAME
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)  # it parses
    assert script.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in script
    assert "DEFAULT_PROJECT='" + str(project) + "'" in script  # paths with spaces are quoted
    assert "DEFAULT_PYTHON='/opt/my env/bin/python'" in script and 'RUN_ID="${RUN_ID:-3}"' in script
    assert "srun --nodes=1 --ntasks=1 --gpus-per-node=2" in script
    # the config inside the script (a here-document) is the dialog's config, byte for byte
    inside = script.split("<<'ACCELERATE_CONFIG'\n", 1)[1].split("\nACCELERATE_CONFIG\n", 1)[0] + "\n"
    assert inside == accelerate_config(spec)
    assert 'RUN_ID="${RUN_ID:-new}"' in launch_script(project, None, spec)


def test_script_creates_a_run_and_launches(tmp_path):
    """The script's own logic under bash (new run -> prepare_run; the launch line), with a stand-in
    Python that records the accelerate launch instead of training."""
    from core.store import Project, ProjectSettings

    project = tmp_path / "my project" / "p.adapterstudio"
    project.parent.mkdir()
    Project.create(project, ProjectSettings.from_dict({"model": "tiny-llama", "method_config": {"peft_type": "LORA"},
                                                        "data": {}, "training": {}})).close()
    shim = tmp_path / "python"
    shim.write_text(f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "accelerate.commands.launch" ]; then
  printf '%s\\n' "$@" > {tmp_path}/argv.txt; cp "$4" {tmp_path}/config.yaml; pwd > {tmp_path}/cwd.txt; exit 0
fi
exec {sys.executable} "$@"
""")
    shim.chmod(0o755)
    script = tmp_path / "launch.sh"
    root = Path(__file__).resolve().parents[2]
    script.write_text(launch_script(project, None, LaunchSpec.for_gpus(2, H200, "auto"), python=str(shim), source_root=root))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          env={**os.environ, "MAIN_PROCESS_PORT": "29777"})
    assert done.returncode == 0, done.stderr
    assert "created run 1" in done.stderr
    argv = (tmp_path / "argv.txt").read_text().split("\n")
    assert argv[argv.index("--main_process_port") + 1] == "29777" and argv[-4:-1] == [str(project), "--run", "1"]
    assert argv[argv.index("--config_file") + 1] == str(project) + ".artifacts/run-1/" + CONFIG_NAME  # beside the run
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["num_processes"] == 2
    assert (tmp_path / "cwd.txt").read_text().strip() == str(project.parent)
    with Project.open(project) as p:
        assert p.run(1).status == "queued"


# ---- the dialog ----------------------------------------------------------------------------------


def test_dialog_choices_save_and_start(qtbot, tmp_path):
    from studio.widgets.launch_dialog import LaunchDialog

    dialog = LaunchDialog(tmp_path / "p.adapterstudio", H200, run_id=None, precision="auto")
    qtbot.addWidget(dialog)
    assert (dialog.processes.minimum(), dialog.processes.maximum(), dialog.processes.value()) == (1, 4, 4)
    assert "NVIDIA H200" in dialog.gpu_label.text() and dialog.config_view.isReadOnly()
    assert yaml.safe_load(dialog.config_view.toPlainText())["num_processes"] == 4
    dialog.processes.setValue(2)
    shown = yaml.safe_load(dialog.config_view.toPlainText())
    assert shown["num_processes"] == 2 and shown["gpu_ids"] == "0,1" and shown["distributed_type"] == "MULTI_GPU"
    assert dialog.precision_label.text() == "bf16" and "accelerate.commands.launch" in dialog.command_view.text()
    dialog.sharding.setCurrentIndex(dialog.sharding.findData("fsdp"))
    assert yaml.safe_load(dialog.config_view.toPlainText())["distributed_type"] == "FSDP"
    dialog.processes.setValue(1)
    assert not dialog.sharding.isEnabled() and yaml.safe_load(dialog.config_view.toPlainText())["distributed_type"] == "NO"
    dialog.processes.setValue(2)
    dialog.sharding.setCurrentIndex(dialog.sharding.findData("ddp"))
    # Save config… / Save launch script… (the file name given instead of the file dialog)
    dialog.save_path = str(tmp_path / "cfg.yaml")
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.save_config_button.click()
    assert saved.args == ["config", str(tmp_path / "cfg.yaml")]
    assert load_accelerate(tmp_path / "cfg.yaml").num_processes == 2
    dialog.save_path = str(tmp_path / "go.sh")
    dialog.save_script_button.click()
    script = tmp_path / "go.sh"
    assert script.stat().st_mode & stat.S_IXUSR and "--gpus-per-node=2" in script.read_text()
    subprocess.run(["bash", "-n", str(script)], check=True)
    # Start hands the launch over
    with qtbot.waitSignal(dialog.launch_requested) as started:
        dialog.start_button.click()
    assert started.args[0] == LaunchSpec.for_gpus(2, H200, "auto")
    # older GPUs: auto precision is fp16
    other = LaunchDialog(tmp_path / "p.adapterstudio", V100, run_id=7)
    qtbot.addWidget(other)
    assert other.processes.maximum() == 2 and other.precision_label.text() == "fp16"
    assert "RUN_ID=\"${RUN_ID:-7}\"" in other.script_text()


# ---- from the window -----------------------------------------------------------------------------


@pytest.fixture
def launch_window(training_window):
    return training_window(MAX_STEPS)  # tests set .gpus to what they need


def test_one_gpu_trains_without_dialog(launch_window, qtbot):
    tc = launch_window.training
    tc.gpus = [H200[0]]
    tc.worker_program = lambda project, run_id: [sys.executable, FAKE, project, "--run", str(run_id), "--steps", "5"]
    with qtbot.waitSignal(tc.run_ended, timeout=30_000):
        assert tc.train() is not None  # started at once
    assert tc.launch_dialog is None


def test_two_gpus_open_the_dialog_and_start_records_the_launch(launch_window, qtbot):
    """Train with two GPUs opens the dialog; Start creates the run, writes the config and the script into
    its folder, logs the launch with the run, and starts (a fake worker here: no GPUs on this machine)."""
    from core.store import Project

    tc = launch_window.training
    tc.gpus = V100
    tc.worker_program = lambda project, run_id: [sys.executable, FAKE, project, "--run", str(run_id), "--steps", "5"]
    with qtbot.waitSignal(tc.launch_dialog_shown) as shown:
        assert tc.train() is None
    dialog = shown.args[0]
    assert dialog.isVisible() and dialog.processes.maximum() == 2 and dialog.precision_label.text() == "fp16"
    with qtbot.waitSignal(tc.run_ended, timeout=30_000) as ended:
        dialog.start_button.click()
    run_id = ended.args[0]
    assert ended.args[1] == "completed" and not dialog.isVisible()
    with Project.open(launch_window.project.path) as project:
        folder = project.run(run_id).checkpoint_dir
        logged = "\n".join(row["message"] for row in project.logs(run_id))
    assert load_accelerate(folder / CONFIG_NAME).num_processes == 2
    subprocess.run(["bash", "-n", str(folder / SCRIPT_NAME)], check=True)
    assert f'RUN_ID="${{RUN_ID:-{run_id}}}"' in (folder / SCRIPT_NAME).read_text()
    assert "accelerate launch: 2 processes" in logged and str(folder / CONFIG_NAME) in logged
    assert "distributed_type: 'MULTI_GPU'" in logged  # the config text itself, with the run
    # Cancel starts nothing
    with qtbot.waitSignal(tc.launch_dialog_shown) as shown:
        tc.train()
    shown.args[0].reject()
    assert not tc.client.running and tc.client.run_id == run_id


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
def test_accelerate_launch_on_the_cpu_pauses_and_finishes_in_the_window(launch_window, qtbot):
    """Start with one process on the CPU really runs ``python -m accelerate.commands.launch --config_file
    CFG -m core.worker PROJECT --run ID`` (use_cpu: true); Pause, asked at once, reaches the worker
    through the launcher: it holds after its first step (no new steps for ~1 s, ``paused_since`` in the
    file), Continue goes on, and the run's curve and end arrive in the window."""
    from core.store import Project

    tc = launch_window.training
    tc.gpus = V100  # two GPUs "found": Train opens the dialog...
    tc.launch_on_cpu = True  # ...whose Start launches on this machine's CPU
    with qtbot.waitSignal(tc.launch_dialog_shown) as shown:
        tc.train()
    dialog = shown.args[0]
    assert dialog.processes.maximum() == 1 and yaml.safe_load(dialog.config_text())["use_cpu"] is True
    with qtbot.waitSignal(tc.run_started, timeout=10_000) as started:
        dialog.start_button.click()
    run_id = started.args[0]
    client = tc.client
    assert client.launched and client.process.args[1:4] == ["-m", "accelerate.commands.launch", "--config_file"]
    assert client.process.args[-4:] == ["core.worker", str(launch_window.project.path), "--run", str(run_id)]
    # Pause while the worker still loads: the command waits in the pipe, the loop holds after step 1.
    with qtbot.waitSignal(tc.pause_changed, timeout=RUN_TIMEOUT_MS) as changed:
        assert tc.toggle_pause() and "Pausing" in tc.pause_button.text()
    assert changed.args == [True]
    held = tc.view.points
    assert 1 <= held < MAX_STEPS and "paused" in tc.view.status.text()
    qtbot.wait(1000)  # ~1 s with no new steps (tiny-llama takes tens of steps a second here)
    assert tc.view.points == held and tc.view.progress.format().endswith("paused")
    with Project.open(launch_window.project.path) as project:
        run = project.run(run_id)
        assert run.status == "running" and run.paused
    with qtbot.waitSignal(tc.pause_changed, timeout=20_000) as changed:
        tc.toggle_pause()
    assert changed.args == [False]
    with qtbot.waitSignal(tc.run_ended, timeout=RUN_TIMEOUT_MS) as ended:
        pass
    assert ended.args == [run_id, "completed"], tc.view.log.toPlainText()[-2000:]
    assert list(tc.view.loss.view()[0]) == list(range(1, MAX_STEPS + 1))  # every step exactly once
    assert "completed" in tc.view.status.text() and "started on cpu" in tc.view.log.toPlainText()
    assert "continued at step" in tc.view.log.toPlainText()
    with Project.open(launch_window.project.path) as project:
        run = project.run(run_id)
        assert run.status == "completed" and not run.paused


# ---- DeepSpeed -------------------------------------------------------------------------------------

MEMORY = {"weights": 6 * 2**30, "adapter": 2**24, "gradients": 2**24, "optimizer": 2**25, "activations": 2**30,
          "workspace": 2**28}
MEMORY["total"] = sum(MEMORY.values())


def test_dialog_offers_deepspeed_with_memory_per_gpu(qtbot, tmp_path):
    """ZeRO-2 / ZeRO-3, with or without CPU offload, beside DDP and FSDP2: the config follows the choice, the
    table gives every choice's memory per GPU for the chosen number of processes (core.estimate's split of
    the Cost panel's estimate), the Slurm script is the same launch; Start hands over the DeepSpeed launch."""
    pytest.importorskip("deepspeed")  # installed by the test set-up (run.sh); its absence: the next test
    from core.estimate import per_gpu_memory
    from studio.widgets.cost_panel import gib
    from studio.widgets.launch_dialog import LaunchDialog

    dialog = LaunchDialog(tmp_path / "p.adapterstudio", H200, precision="bf16", memory=MEMORY)
    qtbot.addWidget(dialog)
    assert [dialog.sharding.itemData(i) for i in range(dialog.sharding.count())] == [
        "ddp", "fsdp", "zero2", "zero2+offload", "zero3", "zero3+offload"]
    assert not dialog.install_command.isVisibleTo(dialog)  # DeepSpeed is here: no install hint
    dialog.processes.setValue(4)
    for choice, stage, offload in (("zero2", 2, "none"), ("zero3+offload", 3, "cpu")):
        dialog.select(choice)
        shown = yaml.safe_load(dialog.config_view.toPlainText())
        assert shown["distributed_type"] == "DEEPSPEED" and shown["deepspeed_config"]["zero_stage"] == stage
        assert shown["deepspeed_config"]["offload_optimizer_device"] == offload and dialog.start_button.isEnabled()
        share = per_gpu_memory(MEMORY, choice.partition("+")[0], 4, offload_optimizer=offload == "cpu")
        assert dialog.memory_per_gpu(choice) == share
        assert gib(share["total"]) in dialog.memory_view.text()
    table = dialog.memory_view.text()
    # one row per choice, with its figure per GPU: ZeRO-3 on 4 GPUs holds a quarter of the weights each
    for choice in ("ddp", "fsdp", "zero2", "zero2+offload", "zero3", "zero3+offload"):
        assert gib(dialog.memory_per_gpu(choice)["total"]) in table, choice
    # by hand, ZeRO-3: 6 GiB / 4 + (16 + 16 + 32 MiB) / 4 + 1 GiB + 256 MiB = 2.77 GiB; DDP: the whole 7.31 GiB
    assert "2.77 GiB" in table and "7.31 GiB" in table
    assert per_gpu_memory(MEMORY, "zero3", 4)["total"] < per_gpu_memory(MEMORY, "zero2", 4)["total"] < MEMORY["total"]
    dialog.processes.setValue(2)
    assert gib(per_gpu_memory(MEMORY, "zero3", 2)["total"]) in dialog.memory_view.text()  # follows the count
    dialog.select("zero3")
    dialog.save_path = str(tmp_path / "job.sbatch")
    with qtbot.waitSignal(dialog.saved) as saved:
        dialog.save_slurm_button.click()
    assert saved.args == ["slurm", str(tmp_path / "job.sbatch")]
    job = (tmp_path / "job.sbatch").read_text()
    assert "#SBATCH --gpus-per-node=2" in job and "zero_stage: 3" in job and (tmp_path / "job.sbatch").stat().st_mode & stat.S_IXUSR
    subprocess.run(["bash", "-n", str(tmp_path / "job.sbatch")], check=True)
    with qtbot.waitSignal(dialog.launch_requested) as started:
        dialog.start_button.click()
    assert started.args[0] == LaunchSpec.for_gpus(2, H200, "bf16", sharding="zero3")
    # without an estimate (the Cost panel has none yet) the dialog says so
    bare = LaunchDialog(tmp_path / "p.adapterstudio", H200)
    qtbot.addWidget(bare)
    assert "no estimate yet" in bare.memory_view.text() and bare.memory_per_gpu("zero3") is None


def test_dialog_without_deepspeed_disables_zero_and_shows_the_install_command(qtbot, tmp_path, monkeypatch):
    """DeepSpeed not importable in the process that builds the dialog (sys.modules entry None: what Python
    does for a module it must not import): the ZeRO choices are greyed, the exact install command is shown,
    and a ZeRO launch cannot start (DDP and FSDP2 still can)."""
    monkeypatch.setitem(sys.modules, "deepspeed", None)
    from core.launch import deepspeed_install_command
    from studio.widgets.launch_dialog import LaunchDialog

    dialog = LaunchDialog(tmp_path / "p.adapterstudio", H200, memory=MEMORY)
    qtbot.addWidget(dialog)
    model = dialog.sharding.model()
    enabled = {dialog.sharding.itemData(i): model.item(i).isEnabled() for i in range(dialog.sharding.count())}
    assert enabled == {"ddp": True, "fsdp": True, "zero2": False, "zero2+offload": False, "zero3": False, "zero3+offload": False}
    assert dialog.install_command.isVisibleTo(dialog) and dialog.deepspeed_note.isVisibleTo(dialog)
    assert dialog.install_command.text() == deepspeed_install_command()
    assert dialog.install_command.text() == f"DS_BUILD_OPS=0 {sys.executable} -m pip install --no-build-isolation deepspeed"
    dialog.select("zero2")  # only a program can pick a disabled entry: Start stays off, the note says why
    assert not dialog.start_button.isEnabled() and "DeepSpeed is not installed" in dialog.note.text()
    dialog.select("fsdp")
    assert dialog.start_button.isEnabled()


def test_the_window_hands_the_cost_estimate_to_the_dialog(launch_window, qtbot):
    from core.estimate import per_gpu_memory
    from studio.widgets.cost_panel import gib

    tc = launch_window.training
    tc.gpus = V100
    assert launch_window.cost.result is not None
    with qtbot.waitSignal(tc.launch_dialog_shown) as shown:
        tc.train()
    dialog = shown.args[0]
    memory = launch_window.cost.result["memory"]
    assert dialog.memory == memory
    assert gib(per_gpu_memory(memory, "ddp", 2)["total"]) in dialog.memory_view.text()
    dialog.reject()


@pytest.fixture
def deepspeed_window(training_window, free_port):
    """A training window whose Training tab says mixed_precision "no" (the CPU's precision; the stand-in
    GPUs' "auto" would be fp16)."""
    window = training_window(MAX_STEPS)
    window.training_form.fields["mixed_precision"].set("no")
    window.training_form._changed()
    return window


@pytest.fixture
def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
@pytest.mark.parametrize("choice", ["zero2", "zero3", "zero3+offload"])
def test_deepspeed_launch_on_two_cpu_processes_pauses_and_finishes_in_the_window(deepspeed_window, qtbot, free_port, choice):
    """The dialog's DeepSpeed launch, for real: two "GPUs" found, ZeRO-2 / ZeRO-3 / ZeRO-3 with the optimizer
    state offloaded to CPU memory (DeepSpeed's CPU Adam steps it) chosen, Start runs ``python -m
    accelerate.commands.launch`` with the DEEPSPEED config, which starts two processes; on this machine's CPU
    DeepSpeed runs on its CPU accelerator (gloo). Pause, asked at once, holds both after the first step;
    Continue goes on; every step arrives once, the run completes, and its checkpoint holds DeepSpeed's
    optimizer state and the gathered adapter (loads in one process)."""
    pytest.importorskip("deepspeed")
    from core import PeftModel
    from core.models import load_model
    from core.store import Project

    window = deepspeed_window
    tc = window.training
    tc.gpus = V100  # two GPUs "found": Train opens the dialog (no launch_on_cpu: two processes)
    with qtbot.waitSignal(tc.launch_dialog_shown) as shown:
        tc.train()
    dialog = shown.args[0]
    dialog.processes.setValue(2)
    dialog.select(choice)
    dialog.port.setValue(free_port)
    config = yaml.safe_load(dialog.config_text())
    assert config["distributed_type"] == "DEEPSPEED" and config["num_processes"] == 2 and config["mixed_precision"] == "no"
    with qtbot.waitSignal(tc.run_started, timeout=10_000) as started:
        dialog.start_button.click()
    run_id = started.args[0]
    client = tc.client
    assert client.launched and client.process.args[1:4] == ["-m", "accelerate.commands.launch", "--config_file"]
    with qtbot.waitSignal(tc.pause_changed, timeout=3 * RUN_TIMEOUT_MS) as changed:
        assert tc.toggle_pause()
    assert changed.args == [True], tc.view.log.toPlainText()[-3000:]
    held = tc.view.points
    assert 1 <= held < MAX_STEPS and "paused" in tc.view.status.text()
    qtbot.wait(1000)
    assert tc.view.points == held
    with Project.open(window.project.path) as project:
        assert project.run(run_id).paused
    with qtbot.waitSignal(tc.pause_changed, timeout=30_000) as changed:
        tc.toggle_pause()
    assert changed.args == [False]
    with qtbot.waitSignal(tc.run_ended, timeout=2 * RUN_TIMEOUT_MS) as ended:
        pass
    log = tc.view.log.toPlainText()
    assert ended.args == [run_id, "completed"], log[-3000:]
    assert list(tc.view.loss.view()[0]) == list(range(1, MAX_STEPS + 1))  # every step exactly once
    started_line = next(line for line in log.splitlines() if "started on" in line)
    assert ", deepspeed" in started_line and "accelerate launch: 2 processes" in log  # DeepSpeed, two processes
    with Project.open(window.project.path) as project:
        run = project.run(run_id)
        assert run.status == "completed" and not run.paused
        logged = "\n".join(row["message"] for row in project.logs(run_id))
        final = project.last_checkpoint(run_id)
    assert f"zero_stage: {choice[4]}" in logged  # the config, recorded with the run
    assert f"offload_optimizer_device: {'cpu' if choice.endswith('+offload') else 'none'}" in logged
    assert final is not None and final.name == f"checkpoint-{MAX_STEPS}"
    assert (final / "deepspeed").is_dir()  # DeepSpeed's own (sharded) optimizer state
    model, _ = load_model("tiny-llama")
    loaded = PeftModel.from_pretrained(model, final / "adapter").adapter_state_dict()
    assert loaded and all(t.abs().sum() > 0 for k, t in loaded.items() if "lora_B" in k)  # trained, full tensors
