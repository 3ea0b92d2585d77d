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
