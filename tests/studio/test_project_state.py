"""The window's project state (studio/project_state.py): one config per edit, debounced saving that loses
nothing on close, Train or Save, and undo / redo without Qt."""

from __future__ import annotations

from core.store import Project
from tests.studio.conftest import wait_cost


def _count_writes(window, monkeypatch) -> list[int]:
    """Every write of the settings into the project file (core.store.Project.save_settings), counted."""
    writes: list[int] = []
    project = window.project
    real = type(project).save_settings

    def counted(self, settings):
        writes.append(1)
        return real(self, settings)

    monkeypatch.setattr(type(project), "save_settings", counted)
    return writes


def test_one_edit_of_r_builds_the_config_once(make_window, qtbot, monkeypatch):
    """A typed r reaches the cost panel with one LoraConfig built (the form's validation); the estimate
    on the pool thread works on a copy of it. Measured 2026-12-07 before project_state: 5 per edit."""
    window = make_window("tiny-llama")
    config_class = window.registry["methods"]["LORA"].Config
    built: list[int] = []
    real_init = config_class.__init__

    def counted(self, *args, **kwargs):
        built.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(config_class, "__init__", counted)
    r = window.method_form.form.fields["r"].widget
    with qtbot.waitSignal(window.cost_ready, timeout=60_000):
        r.setValue(9)
    wait_cost(qtbot, window)
    assert window.settings.method_config["r"] == 9
    assert window.cost.line.text().startswith("trainable params: ")
    assert len(built) == 1, f"one edit of r built the config {len(built)} times"


def test_ten_quick_edits_make_at_most_two_writes(make_window, qtbot, monkeypatch, tmp_path):
    window = make_window("tiny-llama")
    writes = _count_writes(window, monkeypatch)
    r = window.method_form.form.fields["r"].widget
    for value in range(10, 20):  # ten edits within the debounce window
        r.setValue(value)
    qtbot.waitUntil(lambda: not window.state.dirty, timeout=5_000)
    assert 1 <= len(writes) <= 2, f"ten quick edits wrote the project file {len(writes)} times"
    with Project.open(tmp_path / "p.adapterstudio") as project:
        assert project.settings().method_config["r"] == 19


def test_closing_right_after_an_edit_saves_it(make_window, tmp_path):
    window = make_window("tiny-llama")
    batch = window.training_form.fields["batch_size"].widget
    batch.setValue(3)  # the first edit after a quiet spell is written at once
    batch.setValue(5)  # the next one waits for the save timer
    assert window.state.dirty and window._save_timer.isActive()
    window.close()
    with Project.open(tmp_path / "p.adapterstudio") as project:
        assert project.settings().training["batch_size"] == 5


def test_ctrl_s_writes_a_pending_edit_at_once(make_window, tmp_path):
    window = make_window("tiny-llama")
    r = window.method_form.form.fields["r"].widget
    r.setValue(6)
    r.setValue(7)
    assert window.state.dirty
    window.act_save.trigger()
    assert not window.state.dirty
    with Project.open(tmp_path / "p.adapterstudio") as project:
        assert project.settings().method_config["r"] == 7


def test_train_runs_the_last_edit_although_it_was_not_written_yet(training_window, qtbot):
    window = training_window(2)
    r = window.method_form.form.fields["r"].widget
    r.setValue(5)
    r.setValue(6)  # pending: the save timer has not fired
    assert window.state.dirty
    run_id = window.training.train()
    assert run_id is not None and not window.state.dirty
    qtbot.waitUntil(lambda: not window.training.client.running, timeout=180_000)
    with Project.open(window.project.path, readonly=True) as project:
        assert project.run(run_id).config.method_config["r"] == 6


def test_undo_stack_without_qt():
    """Push runs redo; same merge keys merge into one step; a push after an undo drops the redo."""
    from studio.project_state import UndoStack

    done: list[str] = []

    class Edit:
        def __init__(self, name, key=None):
            self.text, self.merge_key, self.name = name, key, name

        def redo(self):
            done.append(f"+{self.name}")

        def undo(self):
            done.append(f"-{self.name}")

        def merge(self, newer):
            self.name = newer.name

    stack = UndoStack()
    seen: list[int] = []
    stack.observers.append(lambda: seen.append(stack.index))
    stack.push(Edit("r=5", "r"))
    stack.push(Edit("r=6", "r"))  # merges: one undo step
    stack.push(Edit("targets"))
    assert stack.count() == 2 and stack.undo_text() == "targets"
    stack.undo()
    stack.undo()
    assert done[-2:] == ["-targets", "-r=6"] and not stack.can_undo()
    stack.redo()
    stack.push(Edit("alpha", "alpha"))  # drops "targets" from the redo side
    assert stack.count() == 2 and not stack.can_redo() and stack.undo_text() == "alpha"
    assert seen == [1, 1, 2, 1, 0, 1, 2]


def test_saving_coalesces_edits_without_qt():
    """The first edit after a quiet spell is written at once, the next ones once SAVE_DELAY_S has passed."""
    from studio.project_state import SAVE_DELAY_S, ProjectState

    class File:
        readonly = False
        written: list[dict] = []

        def save_settings(self, settings):
            self.written.append(dict(settings))

    now = [100.0]
    state = ProjectState(clock=lambda: now[0])
    timers: list[float] = []
    state.on_pending = timers.append
    state.project, state.settings = File(), {"r": 1}
    state.save()
    assert len(File.written) == 1 and not state.dirty
    for r in range(2, 12):
        state.settings["r"] = r
        now[0] += 0.01
        state.save()
    assert len(File.written) == 1 and state.dirty and 0 < timers[-1] <= SAVE_DELAY_S
    state.due()
    assert File.written[-1] == {"r": 11} and state.writes == 2 and not state.dirty
    state.project.readonly = True
    state.save()
    assert not state.dirty and state.writes == 2  # a read-only project is never written
