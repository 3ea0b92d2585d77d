"""core.export: a merged export never holds the model twice in memory (measured in a fresh process).

The child builds a random Llama with ~138 MiB of float32 weights, adds LoRA on every linear layer and
runs `export_merged`, while a thread samples ``RssAnon`` (anonymous, non-file-backed resident memory)
from /proc/self/status. Weights mapped from the written files count as ``RssFile`` instead: the kernel
shares those pages with its page cache and can drop them.

``MALLOC_MMAP_THRESHOLD_`` fixes glibc's mmap threshold, so a freed buffer over 128 KiB goes back to the
kernel at once. Without it glibc raises the threshold as buffers are freed and keeps the merge's
per-layer temporaries (``delta (out, in)``, ``weight + delta``) in its heap: RssAnon then stays
~0.4x the weights higher after the merge although nothing uses that memory (measured). With it, RssAnon
is the memory the export actually holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, tempfile, threading, time
import torch
torch.set_num_threads(1)
sys.setswitchinterval(0.0005)  # the sampler gets its turn even while Python code holds the GIL
from transformers import AutoModelForCausalLM, LlamaConfig
import core.export as export
from core import LoraConfig, get_peft_model
from core.models import load_model

def rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024

_, tok = load_model("tiny-llama")  # its tokenizer (vocab 260) suits any model with that vocab
# 3 layers of hidden 1024: per layer q, o (1024, 1024), k, v (512, 1024), gate, up (2816, 1024),
# down (1024, 2816): ~11.5 M parameters; ~36 M in all, ~138 MiB of float32.
config = LlamaConfig(vocab_size=len(tok), hidden_size=1024, intermediate_size=2816, num_hidden_layers=3,
                     num_attention_heads=8, num_key_value_heads=4, tie_word_embeddings=False)
with torch.random.fork_rng(devices=[]):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
peft = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
with torch.no_grad():  # a non-zero update, as after training
    for name, p in peft.named_parameters():
        if "lora_B" in name:
            p.normal_(0, 0.05)
weights = sum(p.numel() * p.element_size() for p in model.parameters())

# Verification starts when the written folder is reloaded and ends when its logits are compared.
phase = {"verify": False}
peak = {"all": 0, "verify": 0}
real_reload, real_compare = export._reload, export._compare
def reload(folder):
    peak["verify"] = rss_anon(); phase["verify"] = True
    return real_reload(folder)
def compare(*args):
    phase["verify"] = False
    return real_compare(*args)
export._reload, export._compare = reload, compare

export._logits(peft, export._check_inputs(peft, tok))  # warm-up: first-forward allocations are not the export's
# Warm-up: one export of a tiny model first. The export path's first use costs ~20 MiB of lazy imports and
# one-time set-up (measured 2026-12-07: RssAnon stayed 19-21 MiB higher after the first export, 2 MiB after a
# second); that is the process's, not memory this export holds.
_tiny = get_peft_model(load_model("tiny-llama")[0], LoraConfig(r=2, target_modules="all-linear"))
export.export_merged(_tiny, tok, tempfile.mkdtemp(dir=sys.argv[1]) + "/warm-up")
del _tiny
before = rss_anon()
peak["all"] = before
done = threading.Event()
def sample():
    while not done.is_set():
        now = rss_anon()
        peak["all"] = max(peak["all"], now)
        if phase["verify"]:
            peak["verify"] = max(peak["verify"], now)
        time.sleep(0.001)
sampler = threading.Thread(target=sample)
sampler.start()
t0 = time.perf_counter()
out = tempfile.mkdtemp(dir=sys.argv[1]) + "/out"
result = export.export_merged(peft, tok, out)
seconds = time.perf_counter() - t0
done.set()
sampler.join()
with open("/proc/self/maps") as f:
    still_mapped = [line.split()[-1] for line in f if out in line]
print(json.dumps({"weights": weights, "before": before, "peak": peak["all"], "verify_peak": peak["verify"],
                  "after": rss_anon(), "seconds": seconds, "diff": result.max_abs_diff, "still_mapped": still_mapped}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RssAnon from /proc/self/status")
def test_merged_export_peak_memory_is_well_below_a_model_copy(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MALLOC_MMAP_THRESHOLD_": "131072", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    mib = {k: round(v / 2**20) for k, v in m.items() if k in ("weights", "before", "peak", "verify_peak", "after")}
    print(f"export memory (MiB): {mib}, {m['seconds']:.1f} s")
    assert m["diff"] < 1e-4
    # A second copy would add 1.0x the weights (transformers' pread loader, as on Windows: measured
    # 1.07x). What remains is the merge's per-layer temporaries (~2.5 layers of ~11 MiB: ~0.22x).
    assert m["peak"] - m["before"] < 0.5 * m["weights"], mib
    # The check itself (reload + forward of 3 short rows) adds next to nothing: measured ~2 MiB.
    assert m["verify_peak"] - m["before"] < 0.1 * m["weights"], mib
    assert m["after"] - m["before"] < 0.1 * m["weights"], mib
    assert m["still_mapped"] == []  # the written files were unmapped before the folder was renamed
