"""core.train: events, schedule, resume equals an uninterrupted run, stop, NaN / OOM failures,
AdaLoRA's update_and_allocate, and two processes under torchrun."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from core import LoraConfig, get_peft_model
from core.data import DataConfig, prepare
from core.defaults import model_method_defaults
from core.methods import catalog
from core.models import load_model
from core.protocol import Checkpoint, Continued, Eval, Failed, Finished, Paused, Started, Step, encode
from core.train import TrainingArguments, TrainingConfigError, _schedule, defaults_for, train

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "d.jsonl"
    recs = [{"prompt": f"Code {i}?", "completion": f"It is {i * 7 % 13}."} for i in range(24)]
    path.write_text("\n".join(json.dumps(r) for r in recs))
    return path


def setup(dataset, dropout=0.1, seed=0, **data_kwargs):
    model, tok = load_model("tiny-llama")
    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=4, lora_dropout=dropout, target_modules="all-linear"))
    return peft, tok, prepare(DataConfig(path=str(dataset), validation_split=0.25, **data_kwargs), tok)


ARGS = dict(max_steps=6, batch_size=4, warmup_steps=2, eval_steps=3, save_steps=3, learning_rate=5e-3)


def test_arguments_round_trip_and_validate():
    args = TrainingArguments(max_steps=7, lr_scheduler="linear", loraplus_lr_ratio=16)
    assert TrainingArguments.from_dict(json.loads(json.dumps(dataclasses.asdict(args)))) == args
    assert all(f.metadata.get("help") for f in dataclasses.fields(TrainingArguments))
    with pytest.raises(TrainingConfigError, match="lr_scheduler"):
        TrainingArguments(lr_scheduler="step")
    with pytest.raises(TrainingConfigError, match="nope"):
        TrainingArguments.from_dict({"nope": 1})
    for device in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert TrainingArguments(device=device).device == device
    with pytest.raises(TrainingConfigError, match="device must be"):
        TrainingArguments(device="gpu1")
    method, targs = defaults_for("LORA")
    assert method["r"] == 16 and method["target_modules"] == "all-linear" and targs.learning_rate == 2e-3
    assert {m for m in catalog.names() if defaults_for(m)} == {"LORA", "ADALORA", "IA3", "PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING", "ADAPTION_PROMPT"}


def test_schedule_warms_up_then_decays():
    cos = _schedule(TrainingArguments(warmup_steps=4, lr_scheduler="cosine"), 20)
    lin = _schedule(TrainingArguments(warmup_steps=4, lr_scheduler="linear"), 20)
    assert [cos(s) for s in range(4)] == [0.2, 0.4, 0.6, 0.8]
    assert cos(4) == lin(4) == 1.0
    assert lin(12) == pytest.approx(0.5) and cos(12) == pytest.approx(0.5)
    assert cos(19) < 0.02 and _schedule(TrainingArguments(lr_scheduler="constant", warmup_steps=0), 20)(15) == 1.0


def test_a_run_yields_the_protocol_events_and_learns(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    before = {k: v.clone() for k, v in peft.get_base_model().state_dict().items() if "lora" not in k}
    events = list(train(peft, tok, data, TrainingArguments(**{**ARGS, "max_steps": 9}), tmp_path))
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "Started" and kinds[-1] == "Finished" and events[-1].status == "completed"
    steps = [e for e in events if isinstance(e, Step)]
    evals = [e for e in events if isinstance(e, Eval)]
    assert [s.step for s in steps] == list(range(1, 10))
    assert all(s.tokens_per_s > 0 and s.grad_norm > 0 and s.eta_s is not None for s in steps)
    assert steps[0].lr < steps[2].lr  # warm-up
    assert [e.step for e in evals] == [3, 6, 9] and evals[-1].eval_loss < evals[0].eval_loss
    assert steps[-1].loss < steps[0].loss
    ckpts = [e for e in events if isinstance(e, Checkpoint)]
    assert [c.step for c in ckpts] == [3, 6, 9]
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-6", "checkpoint-9"]  # save_total_limit=2
    assert {p.name for p in Path(ckpts[-1].path).iterdir()} >= {"adapter", "optimizer.pt", "scheduler.pt", "rng_state_0.pt", "trainer_state.json"}
    for e in events:
        encode(e)  # every event goes over the wire
    after = {k: v for k, v in peft.get_base_model().state_dict().items() if "lora" not in k}
    assert all(torch.equal(before[k], after[k]) for k in before)  # only the adapter trained


def test_stop_then_resume_equals_an_uninterrupted_run(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    full = list(train(peft, tok, data, TrainingArguments(**ARGS), tmp_path / "a"))
    full_losses = {e.step: e.loss for e in full if isinstance(e, Step)}
    full_evals = {e.step: e.eval_loss for e in full if isinstance(e, Eval)}

    peft, tok, data = setup(dataset)
    stop = threading.Event()
    first = []
    for e in train(peft, tok, data, TrainingArguments(**{**ARGS, "save_steps": 0}), tmp_path / "b", should_stop=stop):
        first.append(e)
        if isinstance(e, Step) and e.step == 2:
            stop.set()
    assert isinstance(first[-1], Finished) and first[-1].status == "stopped" and first[-1].step == 2
    assert isinstance(first[-2], Checkpoint) and first[-2].step == 2
    ckpt = first[-1].checkpoint

    peft, tok, data = setup(dataset, seed=123)  # a different init: everything must come from the checkpoint
    second = list(train(peft, tok, data, TrainingArguments(**ARGS), tmp_path / "b", resume_from=ckpt))
    assert isinstance(second[0], Started) and second[0].start_step == 2 and second[0].resumed_from == ckpt
    losses = {e.step: e.loss for e in first + second if isinstance(e, Step)}
    evals = {e.step: e.eval_loss for e in second if isinstance(e, Eval)}
    assert sorted(losses) == list(range(1, 7))
    for s in losses:
        assert losses[s] == pytest.approx(full_losses[s], abs=1e-5), s
    for s in evals:
        assert evals[s] == pytest.approx(full_evals[s], abs=1e-5)


def test_stop_accepts_a_callable(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    events = list(train(peft, tok, data, TrainingArguments(**ARGS), tmp_path, should_stop=lambda: True))
    assert [type(e).__name__ for e in events][-2:] == ["Checkpoint", "Finished"] and events[-1].step == 1


def test_pause_continue_and_stop_while_paused(dataset, tmp_path):
    """Pause holds after the current step (Paused), continue goes on (Continued) with the paused time left
    out of elapsed time; a stop while paused still writes a checkpoint and finishes as stopped."""
    peft, tok, data = setup(dataset)
    pause, stop = threading.Event(), threading.Event()
    events, arrived = [], []  # arrived: the wall clock at each event, to compare with the run's own elapsed time
    for e in train(peft, tok, data, TrainingArguments(**{**ARGS, "save_steps": 0, "eval_steps": 0, "max_steps": 8}), tmp_path,
                   should_stop=stop, should_pause=pause):
        events.append(e)
        arrived.append(time.perf_counter())
        if isinstance(e, Step) and e.step == 2:
            pause.set()
        elif isinstance(e, Paused) and e.step == 2:
            threading.Timer(1.0, pause.clear).start()  # the loop blocks while paused: continue from elsewhere
        elif isinstance(e, Step) and e.step == 4:
            pause.set()
        elif isinstance(e, Paused) and e.step == 4:
            threading.Timer(0.3, stop.set).start()
    kinds = [type(e).__name__ for e in events]
    assert kinds[-4:] == ["Step", "Paused", "Checkpoint", "Finished"] and kinds.count("Paused") == 2
    i = kinds.index("Paused")
    assert kinds[i - 1: i + 3] == ["Step", "Paused", "Continued", "Step"]
    paused, cont = events[i], events[i + 1]
    assert isinstance(cont, Continued) and paused.step == cont.step == 2 and cont.paused_seconds >= 0.9
    steps = {e.step: (e, t) for e, t in zip(events, arrived) if isinstance(e, Step)}
    # The pause is not training time: between steps 2 and 3 the wall clock ran at least the paused seconds more
    # than the run's elapsed time (whatever a step costs on a busy machine; it once took 3.3 s under load).
    (s2, t2), (s3, t3) = steps[2], steps[3]
    assert (t3 - t2) - (s3.elapsed_s - s2.elapsed_s) > cont.paused_seconds - 0.1
    assert s3.eta_s < 5 * 5 and s3.tokens_per_s > 0
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.status == "stopped" and fin.step == 4
    assert isinstance(events[-2], Checkpoint) and events[-2].step == 4 and fin.checkpoint == events[-2].path
    s4, t4 = steps[4]
    assert (arrived[-1] - t4) - (fin.elapsed_s - s4.elapsed_s) > 0.2  # the second pause (0.3 s) is left out too
    assert Path(fin.checkpoint, "optimizer.pt").is_file()


def test_process_0_reports_the_failing_peers_reason(tmp_path, monkeypatch):
    """With several processes, process 0 mostly learns of a failure by losing its connection to the failed
    process: it then reports that process's own reason (from its note), never its own symptom."""
    import time

    import core.agreement as agreement
    import core.train as train_mod

    monkeypatch.setattr(agreement, "PEER_FAILURE_WAIT_S", 0.3)
    lost = RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:1944")
    own = train_mod._failure(lost, 3, "ck-2", TrainingArguments())
    since = time.time()
    # no note (a process killed by the kernel): say that another process stopped answering
    got = agreement.peer_failure(tmp_path, 3, lost, own, since=since)
    assert "another process of this run stopped answering" in got.reason and got.checkpoint == "ck-2"
    # process 2 only lost a peer too; process 1 is the cause
    agreement.note_failure(tmp_path, 2, train_mod._failure(lost, 3, None, TrainingArguments()))
    agreement.note_failure(tmp_path, 1, Failed("Training failed at step 3: boom", step=3, detail="tb-1", kind="oom"))
    got = agreement.peer_failure(tmp_path, 3, lost, own, since=since)
    assert got.reason == "Process 1 failed: Training failed at step 3: boom" and got.kind == "oom"
    assert got.step == 3 and got.checkpoint == "ck-2" and "tb-1" in got.detail and "Connection closed" in got.detail
    # process 0's own failure is its own
    assert agreement.peer_failure(tmp_path, 3, ValueError("bad"), own, since=since) is own
    # a note from an earlier launch is not this launch's cause
    os.utime(tmp_path / ".process-1-failed.json", (since - 60, since - 60))
    assert "stopped answering" in agreement.peer_failure(tmp_path, 3, lost, own, since=since).reason


def test_nan_loss_fails_naming_the_step_and_keeps_the_checkpoint(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    events = []
    for e in train(peft, tok, data, TrainingArguments(**{**ARGS, "save_steps": 2}), tmp_path):
        events.append(e)
        if isinstance(e, Checkpoint) and e.step == 2:
            with torch.no_grad():
                next(p for n, p in peft.named_parameters() if "lora_B" in n).fill_(float("nan"))
    fail = events[-1]
    assert isinstance(fail, Failed) and fail.kind == "nan" and fail.step == 3
    assert "step 3" in fail.reason and "learning rate" in fail.reason
    assert fail.checkpoint and Path(fail.checkpoint).name == "checkpoint-2" and Path(fail.checkpoint).is_dir()


def test_out_of_memory_says_what_to_lower(dataset, tmp_path, monkeypatch):
    import core.train as train_mod

    def boom(model, batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train_mod, "_loss_sum", boom)
    peft, tok, data = setup(dataset)
    fail = list(train(peft, tok, data, TrainingArguments(**ARGS), tmp_path))[-1]
    assert isinstance(fail, Failed) and fail.kind == "oom" and fail.step == 1
    assert "batch_size" in fail.reason and "gradient_checkpointing" in fail.reason and fail.detail


def test_errors_become_failed_events(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    for p in peft.parameters():
        p.requires_grad_(False)
    fail = list(train(peft, tok, data, TrainingArguments(**ARGS), tmp_path))[-1]
    assert isinstance(fail, Failed) and fail.kind == "config" and "no trainable parameters" in fail.reason


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without a GPU")
def test_a_gpu_asked_for_on_a_machine_without_one_fails_saying_so(dataset, tmp_path):
    peft, tok, data = setup(dataset)
    for device in ("cuda", "cuda:1"):
        fail = list(train(peft, tok, data, TrainingArguments(**ARGS, device=device), tmp_path / device))[-1]
        assert isinstance(fail, Failed) and fail.kind == "config", fail
        assert repr(device) in fail.reason and "choose 'cpu' or 'auto'" in fail.reason
    events = list(train(peft, tok, data, TrainingArguments(**{**ARGS, "max_steps": 1}, device="cpu"), tmp_path / "cpu"))
    assert isinstance(events[0], Started) and events[0].device == "cpu" and isinstance(events[-1], Finished)


def test_options_gradient_accumulation_checkpointing_loraplus_packing(dataset, tmp_path):
    # One step with batch 4 equals one step of 2 micro-batches of 2 (the loss is normalised over
    # the whole optimizer step's tokens), with gradient checkpointing on or off.
    peft, tok, data = setup(dataset, dropout=0.0)
    a = [e for e in train(peft, tok, data, TrainingArguments(max_steps=2, batch_size=4, warmup_steps=0, eval_steps=0), tmp_path / "a") if isinstance(e, Step)]
    peft2, tok, data = setup(dataset, dropout=0.0)
    b = [e for e in train(peft2, tok, data, TrainingArguments(max_steps=2, batch_size=2, gradient_accumulation_steps=2, warmup_steps=0, eval_steps=0, gradient_checkpointing=True), tmp_path / "b") if isinstance(e, Step)]
    assert [s.loss for s in a] == pytest.approx([s.loss for s in b], abs=1e-5)
    sa, sb = peft.adapter_state_dict(), peft2.adapter_state_dict()
    assert all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)

    peft, tok, data = setup(dataset, dropout=0.0, packing=True, max_length=64)
    events = list(train(peft, tok, data, TrainingArguments(max_steps=2, batch_size=2, loraplus_lr_ratio=16, eval_steps=0), tmp_path / "c"))
    assert isinstance(events[-1], Finished)


@pytest.mark.parametrize("family", ["llama", "gpt2", "bloom"])
def test_the_loss_takes_logits_only_at_trained_positions_and_sums_the_same(family, model_factory):
    """With completion-only labels the head runs at the trained positions alone (transformers' logits_to_keep as
    a (B, T) mask): the loss and every adapter gradient equal those of the full (B, T, V) logits."""
    from core.data import IGNORE
    from core.train import _logits_at_trained_positions_only, _loss_sum

    torch.manual_seed(0)
    ids = torch.randint(4, 300, (3, 12))
    mask = torch.ones_like(ids)
    mask[2, 9:] = 0  # right padding on the last row
    labels = ids.clone()
    labels[:, :7] = IGNORE  # the prompt
    labels[0, :4] = ids[0, :4]  # a longer answer in row 0
    labels[2, 9:] = IGNORE
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def loss_and_grads(keep: bool):
        peft = get_peft_model(model_factory(family), LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
        peft.train()
        head_rows = []
        peft.get_base_model().get_output_embeddings().register_forward_hook(
            lambda m, args, out: head_rows.append(args[0].shape[:-1]))
        import core.train as train_mod
        real = train_mod._logits_at_trained_positions_only
        train_mod._logits_at_trained_positions_only = real if keep else (lambda model: False)
        try:
            assert real(peft)
            loss = _loss_sum(peft, batch)
        finally:
            train_mod._logits_at_trained_positions_only = real
        loss.backward()
        return loss.detach(), {n: p.grad for n, p in peft.named_parameters() if p.requires_grad}, head_rows

    loss, grads, rows = loss_and_grads(True)
    ref_loss, ref_grads, ref_rows = loss_and_grads(False)
    n_trained = int((labels[:, 1:] != IGNORE).sum())
    assert rows == [torch.Size([n_trained])] and ref_rows == [torch.Size([3, 12])]  # the head's input rows
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    assert grads.keys() == ref_grads.keys()
    for name, g in grads.items():
        torch.testing.assert_close(g, ref_grads[name], rtol=1e-4, atol=1e-6, msg=name)


def test_prompt_methods_keep_every_position_s_logits(model_factory):
    """Prompt tuning puts virtual tokens before the input: the loss takes the full logits there."""
    from core import PromptTuningConfig
    from core.train import _logits_at_trained_positions_only

    lora = get_peft_model(model_factory("llama"), LoraConfig(r=4))
    prompt = get_peft_model(model_factory("llama"), PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
    assert _logits_at_trained_positions_only(lora) and not _logits_at_trained_positions_only(prompt)


def test_one_process_run_steps_with_the_fused_adamw(dataset, tmp_path, monkeypatch):
    """The loop's optimizer is torch's fused AdamW on the CPU in one process (one kernel for all adapter tensors),
    and it trains: the adapter moves and the loss is finite."""
    built = []
    real = torch.optim.AdamW

    class Recording(real):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            built.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", Recording)
    peft, tok, data = setup(dataset, dropout=0.0)
    before = {n: p.detach().clone() for n, p in peft.named_parameters() if p.requires_grad}
    events = list(train(peft, tok, data, TrainingArguments(max_steps=2, batch_size=2, eval_steps=0, save_steps=0), tmp_path))
    assert isinstance(events[-1], Finished), events[-1]
    assert len(built) == 1 and built[0].defaults["fused"] is True
    assert any(not torch.equal(p, before[n]) for n, p in peft.named_parameters() if n in before)


def test_dropout_masks_are_per_layer_unless_the_run_shares_them(dataset, tmp_path, monkeypatch):
    """One LoRA dropout mask per adapted layer and forward pass (PEFT's semantics) by default; with
    share_dropout_masks the layers reading the same input (q/k/v, gate/up of tiny-llama) draw one between them."""
    import core.methods._lora_fused as fused
    import core.methods.lora as lora

    draws: list[int] = []
    real_draw = fused.keep_mask  # every mask is drawn here, on the training fast path and the generic one
    monkeypatch.setattr(fused, "keep_mask", lambda shape, p, device: draws.append(1) or real_draw(shape, p, device))
    counts = {}
    for share in (False, True):
        draws.clear()
        peft, tok, data = setup(dataset, dropout=0.1)
        events = list(train(peft, tok, data, TrainingArguments(max_steps=1, batch_size=4, eval_steps=0, save_steps=0,
                                                               eval_samples=0, share_dropout_masks=share), tmp_path / str(share)))
        assert isinstance(events[-1], Finished), events[-1]
        counts[share] = len(draws)
    layers = len(peft.base_model.model.model.layers)
    # all-linear on a llama block: q, k, v, o, gate, up, down = 7 layers; shared: {q,k,v}, o, {gate,up}, down = 4
    assert counts == {False: 7 * layers, True: 4 * layers}
    assert not lora._shared_dropout.enabled  # the run left it as it found it


def test_adalora_update_and_allocate_is_called_every_step(dataset, tmp_path, monkeypatch):
    import core.checkpoint as checkpoint_mod

    calls = []
    peft, tok, data = setup(dataset)
    monkeypatch.setattr(checkpoint_mod, "is_adalora", lambda m: True)
    peft.update_and_allocate = lambda step: calls.append((step, any(p.grad is not None for p in peft.parameters() if p.requires_grad)))
    list(train(peft, tok, data, TrainingArguments(max_steps=3, batch_size=4, eval_steps=0), tmp_path))
    assert calls == [(0, True), (1, True), (2, True)]  # 0-based step, gradients still there


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
def test_two_processes_under_torchrun_match_one(tmp_path):
    script = ROOT / "tests/core/ddp_train_script.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    two, one = tmp_path / "two", tmp_path / "one"
    two.mkdir(), one.mkdir()
    import socket

    with socket.socket() as sock:  # a free port: other test sessions may run torchrun at the same time
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(port)]
    proc = subprocess.run([*torchrun, str(script), str(two), "2"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, str(script), str(one), "4"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1, single = (torch.load(p, weights_only=False) for p in (two / "rank0.pt", two / "rank1.pt", one / "rank0.pt"))
    # Ranks read different shards, which together are the one-process batches.
    for s in range(3):
        assert not set(r0["seen"][s]) & set(r1["seen"][s])
        assert sorted(r0["seen"][s] + r1["seen"][s]) == sorted(single["seen"][s])
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k  # identical across ranks
        assert torch.allclose(r0["state"][k], single["state"][k], atol=1e-5), k  # equal to one process
    assert r0["losses"] == pytest.approx(single["losses"], abs=1e-5)
    assert r0["losses"] == r1["losses"]


def test_adalora_trains_through_the_loop(dataset, tmp_path):
    from core.methods.adalora import AdaLoraConfig

    model, tok = load_model("tiny-llama")
    torch.manual_seed(0)
    method, _ = defaults_for("ADALORA")
    peft = get_peft_model(model, AdaLoraConfig(**{**method, "total_step": 8, "tinit": 2, "tfinal": 2}))
    data = prepare(DataConfig(path=str(dataset), validation_split=0.25), tok)
    events = list(train(peft, tok, data, TrainingArguments(max_steps=8, batch_size=4, eval_steps=0), tmp_path))
    assert isinstance(events[-1], Finished), events[-1]
    assert peft.active_peft_config.rank_pattern  # ranks were re-allocated
    kept = sum(sum(v) for v in peft.active_peft_config.rank_pattern.values())
    assert kept < 16 * len(peft.active_peft_config.rank_pattern)


def _registered():
    from core.methods import REGISTRY

    return sorted(p.value for p in REGISTRY)


@pytest.mark.parametrize("method", _registered())
def test_every_methods_defaults_build_and_train(dataset, tmp_path, method):
    from core.config import PeftType
    from core.methods import REGISTRY

    model, tok = load_model("tiny-llama")
    torch.manual_seed(0)
    method_kwargs, args = defaults_for(method)
    # As a new project gets them: fitted to the model (adaption prompt's 30 layers capped at tiny-llama's 2).
    method_kwargs = {"peft_type": method, **method_kwargs}
    model_method_defaults(method_kwargs, model)
    method_kwargs.pop("peft_type")
    peft = get_peft_model(model, REGISTRY[PeftType(method)].Config(**method_kwargs, task_type="CAUSAL_LM"))
    data = prepare(DataConfig(path=str(dataset), validation_split=0.0), tok)
    args = dataclasses.replace(args, max_steps=3, batch_size=4, eval_steps=0)
    events = list(train(peft, tok, data, args, tmp_path))
    assert isinstance(events[-1], Finished), events[-1]
    assert all(torch.isfinite(torch.tensor(e.loss)) for e in events if isinstance(e, Step))


def _adalora_setup(dataset, seed=0):
    from core.methods.adalora import AdaLoraConfig

    model, tok = load_model("tiny-llama")
    torch.manual_seed(seed)
    method, _ = defaults_for("ADALORA")
    peft = get_peft_model(model, AdaLoraConfig(**{**method, "total_step": 8, "tinit": 1, "tfinal": 2, "deltaT": 1}))
    return peft, tok, prepare(DataConfig(path=str(dataset), validation_split=0.25), tok)


def test_adalora_stop_then_resume_equals_an_uninterrupted_run(dataset, tmp_path):
    args = dict(max_steps=8, batch_size=4, eval_steps=0, save_steps=0, learning_rate=5e-3)
    peft, tok, data = _adalora_setup(dataset)
    full = list(train(peft, tok, data, TrainingArguments(**args), tmp_path / "a"))
    full_losses = {e.step: e.loss for e in full if isinstance(e, Step)}
    full_pattern = peft.active_peft_config.rank_pattern

    peft, tok, data = _adalora_setup(dataset)
    stop = threading.Event()
    first = []
    for e in train(peft, tok, data, TrainingArguments(**args), tmp_path / "b", should_stop=stop):
        first.append(e)
        if isinstance(e, Step) and e.step == 4:  # mid-schedule: ranks already re-allocated, not yet final
            stop.set()
    assert isinstance(first[-1], Finished) and first[-1].status == "stopped"
    assert peft.active_peft_config.rank_pattern  # allocation had started before the stop

    peft, tok, data = _adalora_setup(dataset, seed=123)  # everything must come from the checkpoint
    second = list(train(peft, tok, data, TrainingArguments(**args), tmp_path / "b", resume_from=first[-1].checkpoint))
    assert isinstance(second[-1], Finished) and second[-1].status == "completed", second[-1]
    losses = {e.step: e.loss for e in first + second if isinstance(e, Step)}
    assert sorted(losses) == list(range(1, 9))
    for s in losses:
        assert losses[s] == pytest.approx(full_losses[s], abs=1e-5), s
    assert peft.active_peft_config.rank_pattern == full_pattern


def test_adalora_orthogonality_penalty_reaches_the_gradients(dataset, tmp_path):
    """With orth_reg_weight > 0 the first step's update differs from the same step without the penalty."""
    results = []
    for weight in (0.0, 0.5):
        peft, tok, data = _adalora_setup(dataset)
        peft.active_peft_config.orth_reg_weight = weight
        list(train(peft, tok, data, TrainingArguments(max_steps=1, batch_size=4, eval_steps=0, save_steps=0), tmp_path / str(weight)))
        results.append({k: v.detach().clone() for k, v in peft.named_parameters() if "lora_A" in k})
    assert any(not torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_adalora_schedule_follows_the_runs_length(dataset, tmp_path):
    peft, tok, data = _adalora_setup(dataset)
    peft.active_peft_config.total_step = 1000  # e.g. PEFT's usual placeholder
    events = list(train(peft, tok, data, TrainingArguments(max_steps=8, batch_size=4, eval_steps=0, save_steps=0), tmp_path))
    assert isinstance(events[-1], Finished), events[-1]
    assert any(getattr(e, "message", "").startswith("AdaLoRA's total_step was 1000") for e in events)
    assert peft.active_peft_config.total_step == 8
    kept = sum(peft.rank_pattern().values())
    assert kept == peft.active_peft_config.target_r * len(peft.rank_pattern())  # the final budget was reached


def _sharded_run(tmp_path, mode, *launches):
    """Launch sharded_train_script.py under torchrun (2 CPU processes) once per item of `launches`."""
    import socket

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), "OMP_NUM_THREADS": "1"}
    for phases in launches:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
               "--master_port", str(port), str(ROOT / "tests/core/sharded_train_script.py"), mode, str(tmp_path), phases]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, proc.stderr[-4000:]
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]


def _check_sharded_run(r0, r1, mode, optimizer_file):
    """The checkpoint's adapter is the full tensors, loads in one process and equals what both processes
    hold; a run resumed from the sharded checkpoint (a different init: everything comes from the
    checkpoint) continues the very same curve."""
    from core import PeftModel

    a, b = r0["a"], r0["b"]
    assert ("fsdp2" if mode == "fsdp2" else "deepspeed") in a["device"]  # it ran under that mode
    assert sorted(a["losses"]) == [1, 2, 3, 4] and sorted(a["evals"]) == [2, 4]
    for k in a["state"]:
        assert torch.equal(a["state"][k], r1["a"]["state"][k]), k
    ckpt = Path(a["checkpoints"][-1])
    assert ckpt.name == "checkpoint-4" and {"rng_state_0.pt", "rng_state_1.pt", optimizer_file} <= {q.name for q in ckpt.iterdir()}
    model, _ = load_model("tiny-llama")
    loaded = PeftModel.from_pretrained(model, ckpt / "adapter").adapter_state_dict()
    assert sorted(loaded) == sorted(a["state"])
    for k in loaded:
        assert torch.equal(loaded[k], a["state"][k]), k
    assert sorted(b["losses"]) == [3, 4]
    for s in (3, 4):
        assert b["losses"][s] == pytest.approx(a["losses"][s], abs=1e-5), s
    assert b["evals"][4] == pytest.approx(a["evals"][4], abs=1e-5)
    for k in a["state"]:
        assert torch.allclose(b["state"][k], a["state"][k], atol=1e-5), k


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
def test_fsdp2_two_processes_checkpoint_gathers_the_adapter_and_resumes(tmp_path):
    """FSDP2 on 2 CPU processes (accelerate's state forced by the test script; see sharded_train_script.py):
    the optimizer checkpoint is FSDP's sharded one (DCP folder optimizer_0)."""
    r0, r1 = _sharded_run(tmp_path, "fsdp2", "ab")
    assert r0["a"]["sharded"] == "DTensor"  # it really ran sharded
    _check_sharded_run(r0, r1, "fsdp2", "optimizer_0")


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
@pytest.mark.parametrize("stage", [2, 3])
def test_deepspeed_zero_two_processes_checkpoint_and_resume(tmp_path, stage):
    """DeepSpeed ZeRO-2/3 on 2 CPU processes, where DeepSpeed is installed (it is not a dependency: the
    CPU build of DeepSpeed installs from its sdist with DS_BUILD_OPS=0). The engine steps inside
    backward(); checkpoints hold DeepSpeed's own optimizer state (folder deepspeed/)."""
    pytest.importorskip("deepspeed")
    r0, r1 = _sharded_run(tmp_path, f"zero{stage}", "a", "b")
    _check_sharded_run(r0, r1, f"zero{stage}", "deepspeed")
    for r in (r0, r1):
        for phase in ("a", "b"):
            opt = r[phase]["optimizer"]
            assert r[phase]["offload"] == "none" and not opt["offloaded"] and opt["class"] == "AdamW", opt
            # The script's plugin says zero3_save_16bit_model=False (accelerate config's default): the loop turned
            # on the 16-bit gather its ZeRO-3 checkpoints need (else the first checkpoint fails).
            assert opt["gather_16bit"] is (stage == 3), opt
            assert opt["lr"] == opt["schedule_lr"], opt  # the schedule steers the optimizer DeepSpeed steps


@pytest.mark.one_at_a_time("processes")  # several training processes: one such test at a time (tests/conftest.py)
@pytest.mark.slow
def test_deepspeed_zero3_cpu_offload_of_optimizer_state_checkpoint_and_resume(tmp_path):
    """ZeRO-3 with the optimizer state offloaded to CPU memory (offload_optimizer device "cpu"), on 2 CPU
    processes: DeepSpeed's engine reports the offload and steps its CPU Adam, the checkpoint still gathers
    the full adapter (loads in one process, equals what both processes hold) and a resumed run continues
    the same curve. Before the fix, the resumed run's CPU Adam kept the checkpoint's learning rate
    (loading gave it new parameter groups, the schedule still set the old ones): step 4's update used
    2.5e-3 instead of the cosine schedule's 7.3e-4, and the evaluation after step 4 read 5.3914 instead of 5.4217."""
    pytest.importorskip("deepspeed")
    r0, r1 = _sharded_run(tmp_path, "zero3-offload", "a", "b")
    for r in (r0, r1):  # DeepSpeed really offloaded it, in both runs, on both processes
        for phase in ("a", "b"):
            opt = r[phase]["optimizer"]
            assert r[phase]["offload"] == "cpu" and opt["offloaded"] and opt["class"] == "DeepSpeedCPUAdam", opt
            assert opt["gather_16bit"] is True, opt  # turned on by the loop (the script's plugin leaves it False)
            assert opt["lr"] == opt["schedule_lr"], opt  # the schedule steers the optimizer DeepSpeed steps
    _check_sharded_run(r0, r1, "zero3-offload", "deepspeed")
