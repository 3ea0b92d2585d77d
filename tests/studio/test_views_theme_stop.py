"""Bullets of the studio issues not covered elsewhere: the runs view in a dark theme, Stop escalating to
SIGTERM and SIGKILL for a worker that ignores it, and the histogram's max_length cut-off line."""

from __future__ import annotations

import json
import sys
import time

from PySide6.QtGui import QColor, QPalette


def test_run_view_follows_a_dark_palette(qtbot, tmp_path):
    from core import protocol as p
    from studio.widgets.run_view import RunView

    view = RunView()
    qtbot.addWidget(view)
    dark = QPalette()
    for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
        dark.setColor(role, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e0e0e0"))
    view.setPalette(dark)
    view.resize(700, 400)
    view.show()
    view.ensure_plots()
    view.add_events([p.Started(run_id=1, total_steps=20)] +
                    [p.Step(step=i, epoch=0, loss=3 - i / 10, lr=1e-3) for i in range(1, 21)])
    view.redraw()
    png = view.save_plot(str(tmp_path / "dark.png"))
    from PySide6.QtGui import QImage

    image = QImage(png)
    corner = QColor(image.pixel(3, 3))
    assert corner.lightness() < 60, corner.name()  # the plot's background is dark, not pyqtgraph's white


def test_stop_escalates_to_sigterm_then_sigkill(make_window, qtbot, monkeypatch):
    """A worker that ignores `stop` and SIGTERM is killed: Stop always works."""
    import studio.worker_client as wc

    monkeypatch.setattr(wc, "STOP_GRACE_S", 0.5)
    monkeypatch.setattr(wc, "KILL_GRACE_S", 0.6)
    window = make_window("tiny-llama")
    tc = window.training
    tc.gpus = []
    tc.confirm = lambda question, text: {"close": "stop", "stop": "yes"}[question]
    stubborn = ("import signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "print('started', flush=True); time.sleep(120)")
    tc.worker_program = lambda project, run_id: [sys.executable, "-c", stubborn]
    tc.train()
    client = tc.client
    qtbot.waitUntil(lambda: client.running, timeout=10_000)
    time.sleep(0.3)  # the child has set SIG_IGN
    t0 = time.perf_counter()
    with qtbot.waitSignal(tc.run_ended, timeout=15_000):
        tc.stop(confirm=False)
    took = time.perf_counter() - t0
    assert not client.running and client.process.poll() is not None
    assert client.process.returncode == -9  # SIGKILL: neither stop nor SIGTERM ended it
    assert 0.5 <= took < 8, took


def test_histogram_marks_the_max_length_cut_off(make_window, qtbot, tmp_path):
    import pyqtgraph as pg

    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"Capital of X{i}?", "completion": "Y" * (i * 7)}) + "\n" for i in range(8)))
    window = make_window("tiny-llama")
    window.data_form.fields["path"].set(str(data))
    window.data_form.fields["max_length"].set(48)
    window.data_form._changed()
    with qtbot.waitSignal(window.preview_ready, timeout=60_000):
        window.data_panel.preview_button.click()
    lines = [item for item in window.data_panel.plot.getPlotItem().items if isinstance(item, pg.InfiniteLine)]
    assert [line.value() for line in lines] == [48]
