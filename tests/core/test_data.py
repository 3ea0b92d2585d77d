"""core.data: sources, formats, loss masks, truncation, packing, splits, previews and bad-data errors."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from core.data import (
    IGNORE, DataConfig, DataError, Example, collate, pack, prepare, preview, read_records, stream_indices,
)
from core.models import load_model

RECORDS = [{"prompt": f"What is {i} squared?", "completion": f"{i * i}"} for i in range(10)]


@pytest.fixture(scope="module")
def tok():
    return load_model("tiny-llama")[1]


def write_jsonl(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def trained_text(tok, ex: Example) -> str:
    return tok.decode([t for t, label in zip(ex.input_ids, ex.labels) if label != IGNORE])


def test_config_round_trips_through_json():
    cfg = DataConfig(path="x.jsonl", format="chat", max_length=64, packing=True, validation_path="v.jsonl")
    again = DataConfig(**json.loads(json.dumps(dataclasses.asdict(cfg))))
    assert again == cfg
    assert all(f.metadata.get("help") for f in dataclasses.fields(DataConfig))
    with pytest.raises(DataError, match="format"):
        DataConfig(format="xml")


@pytest.mark.parametrize("suffix", ["jsonl", "json", "csv", "parquet", "saved"])
def test_every_source_reads_the_same_records(tmp_path, suffix):
    recs = RECORDS[:3]
    if suffix == "jsonl":
        path = write_jsonl(tmp_path / "d.jsonl", recs)
    elif suffix == "json":
        path = tmp_path / "d.json"
        path.write_text(json.dumps(recs))
    elif suffix == "csv":
        path = tmp_path / "d.csv"
        path.write_text("prompt,completion\n" + "".join(f'"{r["prompt"]}",{r["completion"]}\n' for r in recs))
    else:
        import datasets

        ds = datasets.Dataset.from_list(recs)
        if suffix == "parquet":
            path = tmp_path / "d.parquet"
            ds.to_parquet(str(path))
        else:
            path = tmp_path / "saved"
            datasets.DatasetDict({"train": ds}).save_to_disk(str(path))
    assert read_records(path) == recs


def test_prompt_completion_trains_on_the_answer_only(tmp_path, tok):
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "d.jsonl", RECORDS)), validation_split=0.0), tok)
    assert data.format == "prompt_completion"
    ex = data.train[3]
    assert trained_text(tok, ex) == "9<|im_end|>\n"
    full = tok.decode(ex.input_ids)
    assert full.startswith("<|im_start|>user\nWhat is 3 squared?<|im_end|>\n<|im_start|>assistant\n")
    everything = prepare(DataConfig(path=str(tmp_path / "d.jsonl"), validation_split=0.0, train_on="all"), tok)
    assert all(label != IGNORE for label in everything.train[3].labels)


def test_plain_prompt_completion_without_chat_template(tmp_path, tok):
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "d.jsonl", RECORDS)), validation_split=0.0, use_chat_template=False), tok)
    assert tok.decode(data.train[2].input_ids) == "What is 2 squared?\n4" + tok.eos_token
    assert trained_text(tok, data.train[2]) == "4" + tok.eos_token


def test_alpaca_and_custom_columns_are_understood(tmp_path, tok):
    alpaca = [{"instruction": "Add", "input": "2 and 3", "output": "5"}, {"instruction": "Say hi", "input": "", "output": "hi"}]
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "a.jsonl", alpaca)), validation_split=0.0), tok)
    assert data.format == "alpaca"
    assert "Add\n\n2 and 3" in tok.decode(data.train[0].input_ids)
    custom = [{"q": "one?", "a": "1"}]
    cfg = DataConfig(path=str(write_jsonl(tmp_path / "c.jsonl", custom)), prompt_column="q", completion_column="a", validation_split=0.0)
    assert trained_text(tok, prepare(cfg, tok).train[0]).startswith("1")


def test_chat_trains_on_every_assistant_turn(tmp_path, tok):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"},
            {"role": "assistant", "content": "Ciao"}]
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "c.jsonl", [{"messages": msgs}])), validation_split=0.0), tok)
    assert data.format == "chat"
    assert trained_text(tok, data.train[0]) == "Hello<|im_end|>\nCiao<|im_end|>\n"


def test_chat_uses_a_fallback_template_when_the_tokenizer_has_none(tmp_path, tok):
    import copy

    bare = copy.deepcopy(tok)
    bare.chat_template = None
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "c.jsonl", [{"messages": msgs}])), validation_split=0.0), bare)
    assert tok.decode(data.train[0].input_ids) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n"


def test_raw_text_trains_on_everything(tmp_path, tok):
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "t.jsonl", [{"text": "hello world"}])), validation_split=0.0), tok)
    assert data.format == "text"
    assert trained_text(tok, data.train[0]).startswith("hello world")


def test_truncation_is_counted_and_answerless_examples_are_reported(tmp_path, tok):
    recs = [{"prompt": "x" * 200, "completion": "y"}, {"prompt": "short", "completion": "z" * 100}, {"prompt": "a", "completion": "b"}]
    data = prepare(DataConfig(path=str(write_jsonl(tmp_path / "d.jsonl", recs)), max_length=40, validation_split=0.0), tok)
    assert data.stats.records == 3 and data.stats.truncated == 2 and data.stats.dropped_no_target == 1
    assert len(data.train) == 2 and all(len(e.input_ids) <= 40 for e in data.train)
    assert [e.truncated for e in data.train] == [True, False]
    p = preview(DataConfig(path=str(tmp_path / "d.jsonl"), max_length=40), tok)
    assert [e.truncated for e in p.examples] == [True, False] and p.warnings == data.warnings
    assert any("cut" in w for w in data.warnings) and any("left out" in w for w in data.warnings)


def test_validation_split_and_separate_file(tmp_path, tok):
    path = write_jsonl(tmp_path / "d.jsonl", RECORDS)
    data = prepare(DataConfig(path=str(path), validation_split=0.2, seed=1), tok)
    assert (len(data.train), len(data.validation)) == (8, 2)
    again = prepare(DataConfig(path=str(path), validation_split=0.2, seed=1), tok)
    assert [e.input_ids for e in again.validation] == [e.input_ids for e in data.validation]
    val = write_jsonl(tmp_path / "v.jsonl", RECORDS[:3])
    data = prepare(DataConfig(path=str(path), validation_path=str(val)), tok)
    assert (len(data.train), len(data.validation)) == (10, 3)


def test_dynamic_padding_and_packing():
    a, b = Example([5, 6, 7], [IGNORE, 6, 7]), Example([8, 9], [IGNORE, 9])
    batch = collate([a, b], pad_token_id=0)
    assert batch["input_ids"].shape == (2, 3)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7], [IGNORE, 9, IGNORE]]
    rows = pack([a, b, a], max_length=5)
    assert [r.input_ids for r in rows] == [[5, 6, 7, 8, 9], [5, 6, 7]]
    assert rows[0].labels == [IGNORE, 6, 7, IGNORE, 9]  # no loss across the boundary


def test_stream_order_is_a_function_of_seed_and_position():
    first = stream_indices(10, seed=3, start=0, count=30)
    assert sorted(first[:10]) == list(range(10)) and sorted(first[10:20]) == list(range(10))
    assert stream_indices(10, seed=3, start=7, count=9) == first[7:16]
    assert first[:10] != first[10:20]


def test_preview_marks_trained_spans_and_reports_lengths(tmp_path, tok):
    p = preview(DataConfig(path=str(write_jsonl(tmp_path / "d.jsonl", RECORDS))), tok, n=2)
    assert len(p.examples) == 2
    assert p.examples[0].marked().endswith("assistant\n[[0<|im_end|>\n]]")
    assert p.examples[0].spans[-1] == ("0<|im_end|>\n", True)
    assert p.length_stats["min"] <= p.length_stats["median"] <= p.length_stats["max"]


# ---- bad data ------------------------------------------------------------------------------------


def test_malformed_json_line_names_file_and_line(tmp_path, tok):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": "a", completion}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2: not valid JSON"):
        read_records(path)


def test_missing_columns_list_the_columns_found(tmp_path, tok):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "a", "answer": "b"}])
    with pytest.raises(DataError, match="answer, question"):
        prepare(DataConfig(path=str(path)), tok)
    with pytest.raises(DataError, match="needs the column.*completion"):
        prepare(DataConfig(path=str(path), format="prompt_completion", prompt_column="question"), tok)


def test_empty_dataset_is_an_error(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("\n\n")
    with pytest.raises(DataError, match="empty"):
        read_records(path)


def test_undecodable_bytes_give_the_position(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"byte 28 \(line 2\) is not valid UTF-8"):
        read_records(path)


def test_a_hub_dataset_downloaded_into_the_cache_reads_offline(tmp_path):
    """What `hf download --repo-type dataset someone/capitals` leaves (a snapshot in the hub cache) is read
    by its id with no network (a fresh process: the cache location is read at import)."""
    import subprocess
    import sys

    repo = tmp_path / "hf" / "hub" / "datasets--someone--capitals"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    write_jsonl(snapshot / "train.jsonl", RECORDS[:3])
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    code = "import json; from core.data import read_records; print(json.dumps(read_records('someone/capitals')))"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == RECORDS[:3]


def test_unreadable_sources_say_why(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_records(tmp_path / "missing.jsonl")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown file type"):
        read_records(tmp_path / "x.txt")
    with pytest.raises(DataError, match="local Hugging Face cache"):
        read_records("nobody/no-such-dataset-xyz")
    (tmp_path / "r.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(DataError, match="line 2: 3 fields"):
        read_records(tmp_path / "r.csv")


# --------------------------------------------------------------------------------------------------
# Columns and their detected roles (the studio's column picker)


def test_columns_and_detected_mapping_with_unusual_names(tmp_path, tok):
    from core.data import check_mapping, columns, detect_columns

    qa = tmp_path / "qa.csv"
    qa.write_text("id,Question,Answer\n1,What is 2+2?,4\n2,Capital of France?,Paris\n", encoding="utf-8")
    assert columns(qa) == ["id", "Question", "Answer"]
    found = detect_columns(DataConfig(path=str(qa)))
    assert (found.format, found.mapping, found.error) == (
        "prompt_completion", {"prompt_column": "Question", "completion_column": "Answer"}, "")
    # The detected mapping is one the pipeline reads.
    shown = preview(DataConfig(path=str(qa), **found.mapping), tok)
    assert shown.format == "prompt_completion" and "Paris" in shown.examples[1].marked()

    chat = write_jsonl(tmp_path / "c.jsonl", [{"conversations": [{"role": "user", "content": "hi"},
                                                                 {"role": "assistant", "content": "hello"}]}])
    assert detect_columns(DataConfig(path=str(chat))).mapping == {"messages_column": "conversations"}
    alpaca = write_jsonl(tmp_path / "a.jsonl", [{"instruction": "Add", "input": "2, 2", "output": "4"}])
    assert (detect_columns(DataConfig(path=str(alpaca))).format, detect_columns(DataConfig(path=str(alpaca))).mapping) == ("alpaca", {})
    body = write_jsonl(tmp_path / "t.jsonl", [{"body": "Once upon a time.", "n": 1}])
    assert detect_columns(DataConfig(path=str(body))).mapping == {"text_column": "body"}
    # Settings that already fit are kept as they are.
    kept = detect_columns(DataConfig(path=str(qa), prompt_column="Answer", completion_column="Question"))
    assert kept.mapping == {"prompt_column": "Answer", "completion_column": "Question"}

    # No format fits: the answer says why (no exception: the columns are still useful to the picker).
    odd = write_jsonl(tmp_path / "odd.jsonl", [{"foo": 1, "bar": 2}])
    none = detect_columns(DataConfig(path=str(odd)))
    assert none.format == "" and none.columns == ["foo", "bar"] and "cannot tell the format" in none.error

    # A mapping checked against known columns, without reading the file again.
    assert check_mapping(["Question", "Answer"], DataConfig(path="qa.csv", prompt_column="Question", completion_column="Answer")) == "prompt_completion"
    with pytest.raises(DataError, match="needs the column.*Answr"):
        check_mapping(["Question", "Answer"], DataConfig(path="qa.csv", format="prompt_completion",
                                                         prompt_column="Question", completion_column="Answr"))


def test_columns_errors_name_the_file(tmp_path):
    from core.data import columns, detect_columns

    with pytest.raises(DataError, match="no such file"):
        columns(tmp_path / "missing.csv")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl, line 2"):
        detect_columns(DataConfig(path=str(bad)))
