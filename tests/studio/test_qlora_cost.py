"""The Training tab's base precision (QLoRA) reaches the cost panel's memory estimate."""

from __future__ import annotations

from tests.studio.conftest import wait_cost


def test_a_4bit_base_shrinks_the_weights_in_the_estimate(make_window, qtbot):
    from core import estimate
    from core.methods import lora
    from core.models import skeleton

    window = make_window("tiny-llama")
    before = window.cost.result["memory"]["weights"]
    assert window.training_form.fields["base_precision"].widget.count() == 5  # a combo of the five precisions
    window.training_form.fields["base_precision"].set("4bit")
    window.training_form._changed()
    wait_cost(qtbot, window)
    qtbot.waitUntil(lambda: window.cost.result["memory"]["weights"] < before, timeout=10000)
    expected = estimate.cost(skeleton("tiny-llama"), lora, window.method_form.current_config(),
                             **window.cost.memory_inputs(), base_precision="4bit", double_quant=True)["memory"]
    assert window.cost.result["memory"]["weights"] == expected["weights"]
    qtbot.waitUntil(lambda: window.project.settings().training.get("base_precision") == "4bit", timeout=5000)
