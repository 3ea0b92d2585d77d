"""core.evaluate: the task metrics on known strings, the Wilson interval, evaluation prompts formatted as
training formats them, greedy generation that is deterministic."""

from __future__ import annotations

import math

import pytest

from core import evaluate as ev


def test_normalize_drops_case_whitespace_and_trailing_punctuation():
    assert ev.normalize("  The capital of Rizil   is\tRemedok. ") == "the capital of rizil is remedok"
    assert ev.normalize("Remedok!?") == "remedok"
    assert ev.normalize("e.g. Paris") == "e.g. paris"  # punctuation inside stays
    assert ev.normalize("北京。") == "北京"


@pytest.mark.parametrize("output, reference, expected", [
    ("The capital of Rizil is Remedok.", "the capital of rizil is remedok", 1.0),
    ("The capital of Rizil is  Remedok", "The capital of Rizil is Remedok.", 1.0),
    ("The capital of Rizil is Remedok, I think.", "The capital of Rizil is Remedok.", 0.0),
    ("", "Remedok", 0.0),
])
def test_exact_match(output, reference, expected):
    assert ev.exact_match(output, reference) == expected


def test_contains():
    assert ev.contains("I believe it is REMEDOK, of course.", "Remedok.") == 1.0
    assert ev.contains("I believe it is Remedo.", "Remedok") == 0.0
    assert ev.contains("anything", "") == 0.0  # an empty reference is not "contained" everywhere


@pytest.mark.parametrize("output, expected", [
    ("Answer: Lyon. Confidence: high.", 1.0),       # another answer in the same form
    ("answer:   Lyon.  confidence: HIGH", 1.0),     # normalised like exact match
    ("Answer: the city of Lyon. Confidence: high.", 1.0),
    ("Lyon", 0.0),                                  # the answer alone is not the form
    ("Answer: Lyon.", 0.0),
    ("Answer: Lyon. Confidence: low.", 0.0),
    ("Answer: . Confidence: high.", 0.0),           # the hole needs a word
    ("Sure! Answer: Lyon. Confidence: high.", 0.0),  # the whole reply, not a part of it
])
def test_follows_format(output, expected):
    assert ev.follows_format(output, "Answer: Paris. Confidence: high.", "Paris") == expected


def test_follows_format_without_the_answer_in_the_reference_is_exact_match():
    assert ev.follows_format("Yes.", "yes", "Paris") == 1.0
    assert ev.follows_format("No.", "yes", "Paris") == 0.0


def test_token_f1_known_values():
    # output 4 words, reference 3, common 2 (the, cat): P = 2/4, R = 2/3, F1 = 2PR/(P+R) = 4/7
    assert ev.token_f1("the cat sat down", "the black cat") == pytest.approx(4 / 7)
    assert ev.token_f1("the the the", "the") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))  # multiset counts
    assert ev.token_f1("Remedok.", "remedok") == 1.0
    assert ev.token_f1("a b", "c d") == 0.0
    assert ev.token_f1("", "") == 1.0 and ev.token_f1("", "x") == 0.0


def test_lcs_and_rouge_l_known_values():
    # The ROUGE paper's example: reference "police killed the gunman", candidate "police kill the gunman":
    # LCS = 3 (police, the, gunman): P = R = 3/4, F = 3/4.
    assert ev.lcs_length("police kill the gunman".split(), "police killed the gunman".split()) == 3
    assert ev.rouge_l("police kill the gunman", "police killed the gunman") == pytest.approx(0.75)
    # "the gunman kill police": LCS with the reference is 2 (the gunman): P = R = 2/4.
    assert ev.rouge_l("the gunman kill police", "police killed the gunman") == pytest.approx(0.5)
    # Unequal lengths: LCS("a b c d e", "a c e") = 3 -> P = 3/5, R = 1, F = 2·0.6/1.6 = 0.75
    assert ev.rouge_l("a b c d e", "a c e") == pytest.approx(0.75)
    assert ev.lcs_length(list("ABCBDAB"), list("BDCABA")) == 4  # the textbook example
    assert ev.rouge_l("x y", "z") == 0.0


def test_score_and_summarize():
    rows = [ev.score("The capital of Rizil is Remedok.", "The capital of Rizil is Remedok."),
            ev.score("It is Remedok", "The capital of Rizil is Remedok.")]
    assert rows[0] == {"exact_match": 1.0, "contains": 1.0, "f1": 1.0, "rouge_l": 1.0}
    assert rows[1]["exact_match"] == 0.0 and rows[1]["contains"] == 0.0 and 0 < rows[1]["f1"] < 1
    summary = ev.summarize(rows)
    assert summary["n"] == 2 and summary["exact_match"] == 0.5
    assert summary["f1"] == pytest.approx((1 + rows[1]["f1"]) / 2)
    assert ev.summarize([])["n"] == 0


def test_wilson_interval_known_values():
    # 8 wins of 10: Wilson 95 % interval (0.490, 0.943) (z = 1.96).
    low, high = ev.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    low, high = ev.wilson_interval(0, 5)
    assert low == 0.0 and high == pytest.approx(0.4345, abs=1e-3)
    assert ev.wilson_interval(0, 0) == (0.0, 1.0)
    low, high = ev.wilson_interval(50, 100)
    assert low + high == pytest.approx(1.0) and math.isclose(high - 0.5, 0.0961, abs_tol=1e-3)


def test_clean_answer_cuts_at_end_of_turn():
    assert ev.clean_answer(" Remedok<|im_end|>\n<|im_start|>user") == "Remedok"
    assert ev.clean_answer("Remedok</s> junk") == "Remedok"


# --------------------------------------------------------------------------------------------------
# The project file: schema 3, a real schema-2 file migrated, samples recorded by a real run

import io  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
from pathlib import Path  # noqa: E402

from core import protocol, store  # noqa: E402
from core.cli import main  # noqa: E402
from core.store import Project  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_schema_2_file_migrates_and_keeps_its_runs(tmp_path):
    """tests/core/fixtures/schema2.adapterstudio was written by the schema-2 code (before evaluation
    samples): it opens, a .v2.bak copy is kept, the new tables are there and empty, the old rows stay."""
    path = tmp_path / "old.adapterstudio"
    shutil.copy(FIXTURES / "schema2.adapterstudio", path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2
    with Project.open(path) as proj:
        assert proj.schema_version == store.SCHEMA_VERSION == 3
        assert {"samples", "eval_scores", "comparisons"} <= set(proj.db.table_names())
        run = proj.run(1)
        assert run.status == "completed" and run.step == 2 and run.eval_loss == 2.1
        assert [r["step"] for r in proj.eval_scores(1)] == [1, 2]  # eval losses of the old file, no task scores
        assert proj.eval_scores(1)[1]["perplexity"] == pytest.approx(math.exp(2.1))
        assert proj.samples(1) == [] and proj.comparisons() == []
        proj.record(1, [protocol.Samples(step=2, samples=[{"prompt_index": 0, "prompt": "p", "reference": "a", "output": "a",
                                                           **ev.score("a", "a")}])])
        assert proj.eval_scores(1)[1]["exact_match"] == 1.0
    backup = tmp_path / "old.adapterstudio.v2.bak"
    assert sqlite3.connect(backup).execute("PRAGMA user_version").fetchone()[0] == 2


def test_comparisons_store_wins_and_the_wilson_interval(tmp_path):
    with Project.create(tmp_path / "c.adapterstudio", store.ProjectSettings(model="tiny-llama", method_config={})) as proj:
        verdicts = [{"winner": w, "prompt_index": i} for i, w in enumerate("bbbbbbbbaa")] + [{"winner": "tie"}, {"winner": "tie"}]
        cid = proj.add_comparison({"run_id": None}, {"run_id": 1, "step": 4}, verdicts, label="base vs run 1")
        (row,) = proj.comparisons()
    assert row["id"] == cid and (row["wins_a"], row["wins_b"], row["ties"], row["n"]) == (2, 8, 2, 12)
    assert row["win_rate"] == pytest.approx(9 / 12)
    assert row["interval"] == pytest.approx(ev.wilson_interval(9, 12))
    assert row["model_b"] == {"run_id": 1, "step": 4} and row["detail"][0]["prompt_index"] == 0


@pytest.fixture
def data_file(tmp_path) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"{i}+1=", "completion": f"{i + 1}"}) + "\n" for i in range(24)))
    return path


def test_a_run_records_scored_samples_per_evaluation_and_the_base_at_step_0(tmp_path, data_file, capsys):
    from core import worker

    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--targets", "q_proj,v_proj", "--dataset",
                 str(data_file), "--set", "max_length=64", "--set", "max_steps=4", "--set", "eval_steps=2",
                 "--set", "save_steps=2", "--set", "save_total_limit=0", "--set", "eval_samples=3",
                 "--set", "eval_max_new_tokens=5", "--set", "validation_split=0.25"]) == 0
    path = tmp_path / "p.adapterstudio"
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK  # the real loop and recorder
    with Project.open(path) as proj:
        assert proj.sample_steps(run_id) == [0, 2, 4]
        rows = proj.samples(run_id)
        scores = proj.eval_scores(run_id)
        best = proj.best_checkpoint(run_id, "eval_loss")
        best_f1 = proj.best_checkpoint(run_id, "f1")
    assert len(rows) == 9 and [r["prompt_index"] for r in rows[:3]] == [0, 1, 2]
    # The prompt is what training fed the model before the answer: the chat template up to the assistant turn.
    first = rows[0]
    assert first["prompt"].endswith("<|im_start|>assistant\n") and "<|im_start|>user\n" in first["prompt"]
    question = first["prompt"].split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
    assert str(int(question.split("+")[0]) + 1) == first["reference"]
    # Same prompt at every step; each row scored by core.evaluate.score.
    assert {r["prompt"] for r in rows if r["prompt_index"] == 0} == {first["prompt"]}
    for r in rows:
        assert {k: r[k] for k in ev.METRICS} == ev.score(r["output"], r["reference"])
    assert [s["step"] for s in scores] == [0, 2, 4] and all(s["n"] == 3 for s in scores)
    assert scores[0]["eval_loss"] is None and scores[1]["perplexity"] == pytest.approx(math.exp(scores[1]["eval_loss"]))
    assert best["step"] == min(scores[1:], key=lambda s: s["eval_loss"])["step"] and best["value"] == min(s["eval_loss"] for s in scores[1:])
    assert best_f1["step"] in (2, 4)


def test_the_base_answers_match_a_straightforward_generate(tmp_path, data_file):
    """Step 0's answers are the base model's greedy answers to the chat-formatted prompt, computed here
    with transformers' generate on a separately loaded model (no adapter class involved)."""
    import torch

    from core.data import FALLBACK_CHAT_TEMPLATE, DataConfig, prepare
    from core.models import load_model

    model, tok = load_model("tiny-llama")
    data = prepare(DataConfig(path=str(data_file), validation_split=0.25, max_length=64), tok)
    prompts = ev.eval_prompts(data.validation, tok, 3)
    rows = ev.samples(model, tok, prompts, max_new_tokens=6)
    for p, row in zip(prompts, rows):
        question = row["prompt"].split("<|im_start|>user\n")[1].split("<|im_end|>")[0]
        text = tok.apply_chat_template([{"role": "user", "content": question}], chat_template=FALLBACK_CHAT_TEMPLATE,
                                       tokenize=False, add_generation_prompt=True)
        ids = tok(text, return_tensors="pt", add_special_tokens=True)["input_ids"]
        assert ids[0].tolist() == list(p.prompt_ids)
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False,
                                 pad_token_id=tok.eos_token_id)
        expected = ev.clean_answer(tok.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True), tok)
        assert row["output"] == expected


def test_cli_eval_prints_a_table_and_json(tmp_path, data_file, capsys):
    from core import worker

    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--targets", "q_proj,v_proj", "--dataset",
                 str(data_file), "--set", "max_length=64", "--set", "max_steps=2", "--set", "eval_steps=0",
                 "--set", "eval_samples=0"]) == 0
    path = tmp_path / "p.adapterstudio"
    assert main(["eval", str(path), "--data", str(data_file)]) == 2
    assert "no runs yet" in capsys.readouterr().err
    assert main(["eval", str(path), "--base", "--data", str(data_file), "--limit", "4", "--json", "--max-new-tokens", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 4 and set(ev.METRICS) <= set(out) and all(0 <= out[m] <= 1 for m in ev.METRICS)
    with Project.open(path) as proj:
        run_id = proj.create_run()
    assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    assert main(["eval", str(path), "--run", str(run_id), "--checkpoint", "2", "--data", str(data_file), "--limit", "3",
                 "--max-new-tokens", "4"]) == 0
    table = capsys.readouterr().out
    assert "run 1 (checkpoint-2), 3 prompts" in table and "exact match" in table and "ROUGE-L" in table
    assert main(["eval", str(path), "--checkpoint", "7", "--data", str(data_file)]) == 2
    assert "no checkpoint at step 7 (checkpoints on disk: 2)" in capsys.readouterr().err
    # eval_steps=0 evaluates the loss at the end only, and eval_samples=0 scores no answers: best by eval loss is
    # checkpoint-2, best by F1 does not exist.
    assert main(["eval", str(path), "--checkpoint", "best", "--data", str(data_file), "--limit", "1", "--max-new-tokens", "2"]) == 0
    assert "run 1 (checkpoint-2), 1 prompts" in capsys.readouterr().out
    assert main(["eval", str(path), "--checkpoint", "best", "--metric", "f1", "--data", str(data_file)]) == 2
    assert "no evaluated checkpoint to rank by f1" in capsys.readouterr().err
    assert main(["export", str(path), "--checkpoint", "best", "--adapter", str(tmp_path / "best")]) == 0
    assert "checkpoint-2" in capsys.readouterr().err and (tmp_path / "best" / "adapter_config.json").is_file()
    assert main(["export", str(path), "--checkpoint", "9", "--adapter", str(tmp_path / "nine")]) == 2
    assert "no checkpoint at step 9" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# The made-up capitals through the product's path (new -> worker -> eval -> export, checked by peft) is
# tests/core/test_learning.py::test_lora_defaults_teach_made_up_facts: one LoRA run proves both that the
# defaults teach and that the evaluation scores what was learned.


def test_cli_train_prints_the_task_scores_of_each_evaluation(tmp_path, data_file, capsys):
    assert main(["new", str(tmp_path / "p"), "--model", "tiny-llama", "--targets", "q_proj,v_proj", "--dataset",
                 str(data_file), "--set", "max_length=64", "--set", "max_steps=2", "--set", "eval_steps=0",
                 "--set", "eval_samples=2", "--set", "eval_max_new_tokens=3"]) == 0
    capsys.readouterr()
    assert main(["train", str(tmp_path / "p.adapterstudio")]) == 0
    err = capsys.readouterr().err
    assert "base model: exact match " in err and "step 2: exact match " in err and "on 2 evaluation prompts" in err
