"""The cost panel's numbers: trainable parameters and training memory for the settings on screen.

Edits ask for a new estimate (`CostEstimate.request`); a short timer coalesces a burst of them into one
count, which runs on the pool thread (`studio.jobs.count_cost`). An edit while a count runs marks it
stale, and the count starts again when it ends; `MainWindow.cost_ready` says when the panel shows the
settings of the last edit.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from studio import jobs

if TYPE_CHECKING:
    from studio.main_window import MainWindow


class CostEstimate(QObject):
    """Counts the cost of the window's settings into its `studio.widgets.cost_panel.CostPanel`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.running = False  # a count is on the pool thread
        self.dirty = False  # an edit came while it ran: count again when it ends
        self.timer = QTimer(self, singleShot=True, interval=60)
        self.timer.timeout.connect(self.start)

    def request(self) -> None:
        self.timer.start()

    def idle(self) -> bool:
        """No count asked for, none running, nothing else on the window's pool (what tests wait for)."""
        return not self.timer.isActive() and not self.running and not self.window.runner.busy

    def memory_inputs(self, training: dict[str, Any]) -> dict[str, Any]:
        """The cost panel's batch, length and dtype with the Training tab's choices (`core.estimate.cost` keywords)."""
        return {**self.window.cost.memory_inputs(), "gradient_checkpointing": bool(training.get("gradient_checkpointing")),
                "device": training.get("device") or "auto", **_quantized_base(training)}

    def hub_inputs(self) -> tuple | None:
        """(method module, method config, memory inputs) of the current settings, for the Hub dialog's estimate."""
        window = self.window
        config = window.method_form.current_config() if window.registry else None
        if config is None or window.settings is None:
            return None
        return window.registry["methods"][config["peft_type"]], config, self.memory_inputs(window.settings.training or {})

    def start(self) -> None:
        window = self.window
        if window.model_info is None or not window.registry or window.settings is None:
            return
        if self.running:
            self.dirty = True
            return
        built = window.method_form.built()  # the config the form's validation built: not built again
        if built is None:
            window.cost.set_error(window.method_form.form.error)
            return
        method = window.registry["methods"][built.to_dict()["peft_type"]]
        self.running, self.dirty = True, False

        def finish() -> None:
            self.running = False
            if self.dirty:
                self.start()
            else:
                window.cost_ready.emit()

        def done(result: dict[str, Any]) -> None:
            window.cost.set_result(result)
            finish()

        def failed(message: str) -> None:
            window.cost.set_error(message)
            finish()

        memory = self.memory_inputs(window.settings.training or {})  # the Training tab's choices change the estimate too
        # A copy for the pool thread: get_peft_model may fill in the config it is given.
        window.runner.submit(jobs.count_cost, window.model_info.ref, method, copy.deepcopy(built), memory,
                             on_done=done, on_error=failed)


def _quantized_base(training: dict) -> dict:
    """The Training tab's base precision as `core.estimate.cost` keywords: an 8-bit / 4-bit base is counted
    as bitsandbytes holds it (a float base_precision leaves the cost panel's dtype in charge)."""
    precision = training.get("base_precision") or "float32"
    if precision not in ("8bit", "4bit"):
        return {}
    return {"base_precision": precision, "double_quant": bool(training.get("double_quant", True))}
