"""core.protocol: round trips, versioning, errors, and that it stays stdlib-only."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from core import protocol as p

SAMPLES = [
    p.Started(run_id=3, total_steps=100, start_step=10, trainable_params=786432, device="cpu"),
    p.Step(step=1, epoch=0.01, loss=2.5, lr=1e-4, grad_norm=0.7, tokens_per_s=1234.5, elapsed_s=0.8, eta_s=80.0),
    p.Eval(step=10, eval_loss=1.9),
    p.Samples(step=10, samples=[{"prompt_index": 0, "prompt": "Q?\n", "reference": "A ü", "output": "A", "exact_match": 0.0,
                                 "contains": 1.0, "f1": 0.67, "rouge_l": 0.67}]),
    p.Checkpoint(step=10, path="/tmp/x/checkpoint-10"),
    p.Finished(status="completed", step=100, loss=0.5, checkpoint="/tmp/x/checkpoint-100"),
    p.Finished(status="stopped", step=3),
    p.Failed(reason="Loss became NaN at step 7.", step=7, detail="Traceback...", kind="nan"),
    p.Log(level="warning", message="3 examples were truncated\nsecond line ü"),
    p.Heartbeat(time=123.0, step=4),
    p.Paused(step=5, time=124.0),
    p.Continued(step=5, paused_seconds=3.5),
    p.Stop(),
    p.Pause(),
    p.Continue(),
]


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_one_line(msg):
    line = p.encode(msg)
    assert "\n" not in line and "\r" not in line
    data = json.loads(line)
    assert data["v"] == p.PROTOCOL_VERSION and data["type"] == msg.type
    assert p.decode(line) == msg
    assert p.decode(line.encode() + b"\n") == msg


def test_every_type_is_registered_once():
    tags = list(p.EVENT_TYPES) + list(p.COMMAND_TYPES)
    assert len(tags) == len(set(tags))
    assert {type(m) for m in SAMPLES} == set(p.EVENT_TYPES.values()) | set(p.COMMAND_TYPES.values())


def test_positional_construction_as_documented():
    s = p.Step(5, 0.5, 1.0, 2e-4, 0.3, 100.0, 1.5, 10.0)
    assert (s.step, s.loss, s.eta_s) == (5, 1.0, 10.0)
    assert p.Started(1, 50).total_steps == 50


def test_non_finite_floats_survive():
    msg = p.decode(p.encode(p.Step(step=1, epoch=0, loss=float("nan"), lr=0.1, grad_norm=float("inf"))))
    assert math.isnan(msg.loss) and math.isinf(msg.grad_norm)


def test_unknown_fields_are_ignored():
    assert p.decode('{"v":1,"type":"eval","step":2,"eval_loss":1.5,"new_field":1}') == p.Eval(2, 1.5)


@pytest.mark.parametrize(
    "line, words",
    [
        ('{"v":1,"type":"explode"}', "unknown protocol message type 'explode'"),
        ('{"v":99,"type":"step"}', "protocol version 99 is newer"),
        ('{"type":"step"}', "without a valid version"),
        ('{"v":1,"type":"eval","step":2}', "bad 'eval' message"),
        ('{"v":1,"type":"finished","status":"great"}', "bad 'finished' message"),
        ("not json", "not a JSON line"),
        ("[1,2]", "JSON object"),
        ("   ", "empty line"),
    ],
)
def test_errors_are_clear(line, words):
    with pytest.raises(p.ProtocolError, match=words.replace("(", r"\(")):
        p.decode(line)


def test_decode_command_accepts_bare_stop():
    assert p.decode_command("stop\n") == p.Stop()
    assert p.decode_command(" STOP ") == p.Stop()
    assert p.decode_command(p.encode(p.Stop())) == p.Stop()
    with pytest.raises(p.ProtocolError, match="event, not a command"):
        p.decode_command(p.encode(p.Eval(1, 1.0)))
    with pytest.raises(p.ProtocolError):
        p.decode_command("halt")


def test_decode_command_accepts_bare_pause_and_continue():
    assert p.decode_command("pause\n") == p.Pause()
    assert p.decode_command("Continue") == p.Continue()
    assert p.decode_command(p.encode(p.Continue())) == p.Continue()


def test_encode_rejects_non_messages():
    with pytest.raises(p.ProtocolError):
        p.encode({"type": "stop"})


def test_protocol_is_stdlib_only_and_store_torch_free():
    code = (
        "import sys; before = set(sys.modules); import core.protocol; "
        "extra = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names) - {'core'}; "
        "assert not extra, extra; "
        "import core.store; "
        "bad = [m for m in ('torch', 'transformers', 'PySide6') if m in sys.modules]; "
        "assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
