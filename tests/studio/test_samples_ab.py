"""The Samples view and the Blind A/B view on a real run: tiny-llama trained by the real loop (in-process
worker), its samples read from the project file, a blind comparison driven with the keyboard and recorded."""

from __future__ import annotations

import io
import json

import pytest
from PySide6.QtCore import Qt

from core.cli import main
from core.evaluate import wilson_interval
from core.store import Project


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project with one tiny-llama run: evaluations (and checkpoints) at steps 2 and 4, 3 sampled prompts."""
    from core import worker

    tmp = tmp_path_factory.mktemp("ab")
    data = tmp / "d.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f"{i + 1}"}) + "\n" for i in range(24)))
    assert main(["new", str(tmp / "p"), "--model", "tiny-llama", "--targets", "q_proj,v_proj", "--dataset", str(data),
                 "--set", "max_length=64", "--set", "max_steps=4", "--set", "eval_steps=2", "--set", "save_steps=2",
                 "--set", "save_total_limit=0", "--set", "eval_samples=3", "--set", "eval_max_new_tokens=5",
                 "--set", "validation_split=0.25", "--set", "learning_rate=0.05"]) == 0
    path = tmp / "p.adapterstudio"
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    return path, run_id


def test_samples_view_slides_through_checkpoints(qtbot, trained):
    from studio.widgets.samples_view import SamplesView, highlight

    path, run_id = trained
    view = SamplesView()
    qtbot.addWidget(view)
    with Project.open(path) as proj:
        view.set_run(proj, run_id)
        rows = proj.samples(run_id)
    assert view.prompt_box.count() == 3 and view.steps == [2, 4] and view.current_step == 4  # newest first
    assert not view.empty.isVisible()
    at = {(r["step"], r["prompt_index"]): r for r in rows}
    view.prompt_box.setCurrentIndex(1)
    view.show_step(2)
    assert view.current_step == 2 and "Step 2" in view.checkpoint_title.text()
    assert view.reference.toPlainText() == at[(2, 1)]["reference"]
    for pane, step in ((view.checkpoint, 2), (view.base, 0)):
        text = pane.toPlainText()
        assert text.startswith(" ".join(at[(step, 1)]["output"].split()) or "(empty)"), (text, at[(step, 1)])
    assert "F1" in view.checkpoint.toPlainText()
    view.slider.setValue(1)
    assert view.current_step == 4 and "Step 4" in view.checkpoint_title.text()
    # Differences: a word not in the reference is marked, the matching one is not.
    marked = highlight("The capital is Paris", "the capital is Rome")
    assert marked.count("background") == 1 and "Paris</span>" in marked and "capital" in marked.split("<span")[0]
    with Project.open(path) as proj:
        view.set_run(proj, None)
    assert view.empty.isVisibleTo(view) and view.prompt_box.count() == 0


def test_blind_ab_base_vs_run_is_recorded_with_its_interval(qtbot, trained):
    from studio.widgets.ab_view import ABView

    path, run_id = trained
    view = ABView()
    qtbot.addWidget(view)
    view.show()
    with Project.open(path) as proj:
        view.set_project(proj)
        outputs = {(r["step"], r["prompt_index"]): r["output"] for r in proj.samples(run_id)}
    labels = [view.model_b.itemText(i) for i in range(view.model_b.count())]
    assert labels == ["base model", f"run {run_id} · step 2", f"run {run_id} · step 4"]
    view.seed = 3
    view.choose({"run_id": None}, {"run_id": run_id, "step": 4})
    qtbot.mouseClick(view.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.judging, timeout=120_000)
    # The answers are the recorded ones, in a random order the person cannot see.
    assert view.answers == ([outputs[(0, i)] for i in range(3)], [outputs[(4, i)] for i in range(3)])
    shown = []
    with qtbot.waitSignal(view.finished, timeout=10_000) as done:
        for key in (Qt.Key.Key_A, Qt.Key.Key_B, Qt.Key.Key_T):
            shown.append((view.left.toPlainText(), view.right.toPlainText(), view.flipped[view.position]))
            qtbot.keyClick(view, key)
    # What the keys meant: A prefers the left answer, B the right one, T a tie; mapped back to the models.
    expected = ["b" if shown[0][2] else "a", "a" if shown[1][2] else "b", "tie"]
    with Project.open(path) as proj:
        (row,) = proj.comparisons()
    assert row["id"] == done.args[0] and [v["winner"] for v in row["detail"]] == expected
    assert row["model_a"] == {"run_id": None} and row["model_b"] == {"run_id": run_id, "step": 4}
    wins = expected.count("b") + 0.5 * expected.count("tie")
    assert row["win_rate"] == pytest.approx(wins / 3) and row["interval"] == pytest.approx(wilson_interval(wins, 3))
    assert f"{wins / 3:.0%}" in view.status.text() and "95 % interval" in view.status.text()
    assert not view.judging and view.start_button.isEnabled()


def test_blind_ab_generates_answers_for_a_checkpoint_without_samples(qtbot, trained, tmp_path):
    """A checkpoint whose step has no recorded answers: the background job loads it and answers."""
    from core.evaluate import answers_for

    path, run_id = trained
    with Project.open(path) as proj:
        prompts = [{"prompt": r["prompt"], "reference": r["reference"]} for r in proj.samples(run_id, step=4)]
        recorded = [r["output"] for r in proj.samples(run_id, step=4)]
        with proj._write():  # forget step 4's answers: they must be generated again, identically
            proj.conn.execute("DELETE FROM samples WHERE run_id = ? AND step = 4", (run_id,))
        assert answers_for(proj, {"run_id": run_id, "step": 4}, prompts, 5) == recorded


def test_runs_list_shows_the_chosen_score_and_the_blind_comparison(qtbot, trained):
    """After the comparison above: the runs list's "best score" column follows the chosen metric, and the
    "blind A/B" column shows the run's win rate with its interval."""
    from studio.widgets.runs_list import COLUMNS, RunsList

    path, run_id = trained
    runs = RunsList()
    qtbot.addWidget(runs)
    with Project.open(path) as proj:
        scores = {s["step"]: s for s in proj.eval_scores(run_id)}
        (comparison,) = proj.comparisons()
        runs.set_runs(proj)
        row = runs.table.topLevelItem(0)
        assert row.text(len(COLUMNS) - 2) == f"{max(scores[2]['exact_match'], scores[4]['exact_match']):.0%}"
        with qtbot.waitSignal(runs.metric_changed):
            runs.metric.setCurrentIndex(2)  # token F1
        runs.set_runs(proj)
        row = runs.table.topLevelItem(0)
    assert row.text(len(COLUMNS) - 2) == f"{max(scores[2]['f1'], scores[4]['f1']):.0%}"
    low, high = comparison["interval"]
    assert row.text(len(COLUMNS) - 1) == f"{comparison['win_rate']:.0%} [{low:.0%}–{high:.0%}]"
    assert "base vs run 1 · step 4" in row.toolTip(len(COLUMNS) - 1)


def test_the_automatic_judge_decides_through_a_stand_in_server(qtbot, trained, tmp_path, monkeypatch):
    """The A/B view's judge: the edited prompt reaches an OpenAI-compatible stand-in on 127.0.0.1, asked in
    both orders; a judge that always prefers the first answer gives only ties; the key is saved outside
    the project (the config folder), and the comparison is recorded with the judge's name."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from studio.widgets.ab_view import ABView

    seen = []

    class FirstAlways(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            seen.append((self.headers.get("Authorization"), json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            data = json.dumps({"choices": [{"message": {"content": "1"}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FirstAlways)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.delenv("ADAPTER_STUDIO_JUDGE_KEY", raising=False)
    path, run_id = trained
    view = ABView()
    qtbot.addWidget(view)
    try:
        with Project.open(path) as proj:
            view.set_project(proj)
            before = len(proj.comparisons())
        view.choose({"run_id": None}, {"run_id": run_id, "step": 2})
        view.start()
        qtbot.waitUntil(lambda: view.judge_button.isEnabled(), timeout=120_000)
        view.judge_url.setText(f"http://127.0.0.1:{server.server_address[1]}/v1")
        view.judge_model.setText("stand-in")
        view.judge_key.setText("sk-test")
        view.judge_prompt.setPlainText("Which is better?\n1: {first}\n2: {second}\nSay 1, 2 or tie.")
        with qtbot.waitSignal(view.finished, timeout=60_000):
            qtbot.mouseClick(view.judge_button, Qt.MouseButton.LeftButton)
    finally:
        server.shutdown()
        server.server_close()
    assert len(seen) == 6 and all(auth == "Bearer sk-test" for auth, _ in seen)
    first, second = (body["messages"][0]["content"] for _, body in seen[:2])
    assert first.startswith("Which is better?\n1: ") and first != second  # the same pair, both orders
    with Project.open(path) as proj:
        row = proj.comparisons()[-1]
        assert len(proj.comparisons()) == before + 1
        settings_text = proj.conn.execute("SELECT group_concat(training) || group_concat(data_config) FROM settings").fetchone()[0]
    assert row["judge"] == "stand-in" and [v["winner"] for v in row["detail"]] == ["tie"] * 3
    assert "judge: stand-in" in row["label"] and view.judge_key.text() == ""
    assert (tmp_path / "cfg" / "adapter-studio" / "judge_key").read_text().strip() == "sk-test"
    assert "sk-test" not in settings_text and not any("sk-test" in json.dumps(r) for r in proj_rows(path))


def proj_rows(path):
    """Every row of every table of the project file, to show the key is nowhere in it."""
    with Project.open(path) as proj:
        return [dict(zip([d[0] for d in cur.description], r)) for t in proj.db.table_names()
                for cur in [proj.conn.execute(f"SELECT * FROM [{t}]")] for r in cur.fetchall()]
