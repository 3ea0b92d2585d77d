"""Combining finished runs (core/combine.py, ``adapter-studio combine``): the combination becomes a run of its
own, its adapter is the engine's ``add_weighted_adapter`` result, it exports and reloads like any run, and
impossible combinations are refused with the runs named.

The module fixture trains three tiny-llama LoRA runs with the real loop (in-process, 3 steps each): runs 1 and 2
at r=4 on different data, run 3 at r=8.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from core.combine import CombineRequest, build_adapter, combine_runs, combination_name, plan_combination
from core.errors import RequestError
from core.store import Project, ProjectSettings

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
IDS = torch.tensor([[5, 17, 42, 8, 99, 3, 11, 64]])


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from core import worker

    folder = tmp_path_factory.mktemp("combine")
    files = []
    for k, completion in enumerate((" zebra zebra", " apple pie")):
        data = folder / f"d{k}.jsonl"
        data.write_text("".join(json.dumps({"prompt": f"Q{i}:", "completion": completion}) + "\n" for i in range(8)))
        files.append(data)
    lora = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    settings = ProjectSettings(model="tiny-llama", method_config=lora, data={"path": str(files[0]), "max_length": 32},
                               training={"max_steps": 3, "batch_size": 4, "learning_rate": 5e-2, "eval_steps": 0,
                                         "warmup_steps": 0, "eval_samples": 0})
    path = folder / "c.adapterstudio"
    with Project.create(path, settings) as project:
        for data, r in ((files[0], 4), (files[1], 4), (files[1], 8)):
            settings.data["path"] = str(data)
            settings.method_config = {**lora, "r": r, "lora_alpha": 2 * r}
            project.save_settings(settings)
            run_id = project.create_run()
            assert worker.run_job(path, run_id, out=io.StringIO()) == worker.EXIT_OK
    return path


@pytest.fixture
def project(trained, tmp_path):
    """A copy of the trained project and its artifacts (each test records its own runs)."""
    path = copy_project(trained, tmp_path)
    with Project.open(path) as opened:
        yield opened


def copy_project(trained: Path, folder: Path) -> Path:
    import shutil

    path = folder / trained.name
    shutil.copy(trained, path)
    shutil.copytree(str(trained) + ".artifacts", str(path) + ".artifacts")
    return path


def engine_logits(folders: list[str], weights: list[float], **kwargs) -> torch.Tensor:
    """The engine's own combination, built here without core.combine: load each adapter, add_weighted_adapter."""
    from core.models import load_model
    from core.peft_model import PeftModel

    model, _ = load_model("tiny-llama")
    peft = PeftModel.from_pretrained(model, folders[0], adapter_name="a0")
    for i, folder in enumerate(folders[1:], 1):
        peft.load_adapter(folder, adapter_name=f"a{i}")
    torch.manual_seed(0)
    peft.add_weighted_adapter([f"a{i}" for i in range(len(folders))], weights, "mix", **kwargs)
    peft.set_adapter("mix")
    with torch.no_grad():
        return peft(input_ids=IDS).logits


def adapter_logits(folder: Path) -> torch.Tensor:
    from core.models import load_model
    from core.peft_model import PeftModel

    model, _ = load_model("tiny-llama")
    with torch.no_grad():
        return PeftModel.from_pretrained(model, folder).eval()(input_ids=IDS).logits


@pytest.mark.slow  # with the module's three trainings
def test_a_combination_is_a_new_run_that_exports_and_reloads_as_the_engine_combines(project, tmp_path):
    from core.runs import adapter_folder, export_run, prepare_run

    sources = [str(adapter_folder(project.last_checkpoint(i))) for i in (1, 2)]
    run_id = combine_runs(project, CombineRequest(runs=[1, 2], weights=[0.5, 0.5], how="ties", density=0.5))
    run = project.run(run_id)
    assert run_id == 4 and run.name == "0.5×run 1 + 0.5×run 2 (ties)" and run.status == "completed"
    assert run.config.combined == {"runs": [1, 2], "names": ["run 1", "run 2"], "weights": [0.5, 0.5],
                                   "combination_type": "ties", "seed": 0, "checkpoints": sources, "density": 0.5,
                                   "majority_sign_method": "total"}
    assert run.config.model == "tiny-llama" and run.config.method_config["r"] == 4
    checkpoint = project.last_checkpoint(run_id)
    assert checkpoint == run.checkpoint_dir / "checkpoint-0" and (checkpoint / "adapter" / "adapter_config.json").is_file()
    assert "combined by ties, density 0.5, majority_sign_method total, seed 0" in project.logs(run_id)[0]["message"]
    assert not list(project.artifacts_dir.glob(".combine-*"))  # the build folder was moved, nothing left over
    # the saved adapter is what the engine makes of the two runs' adapters
    expected = engine_logits(sources, [0.5, 0.5], combination_type="ties", density=0.5)
    assert torch.allclose(adapter_logits(checkpoint / "adapter"), expected, atol=1e-5)
    assert not torch.allclose(adapter_logits(Path(sources[0])), expected, atol=1e-3)  # and it is not run 1 alone
    # exported like any run (reloaded and compared by core.export), and the export loads to the same model
    result = export_run(run.config.model, checkpoint, tmp_path / "out", merged=False, training=run.config.training)
    assert result.max_abs_diff < 1e-4
    assert torch.allclose(adapter_logits(tmp_path / "out"), expected, atol=1e-5)
    # a combination was not trained: nothing to resume
    with pytest.raises(RequestError, match=r"run 4 was made by combining runs 1, 2, not trained"):
        prepare_run(project, resume=run_id, steps=10)


def test_cat_of_different_ranks_and_dare_is_reproducible(project, tmp_path):
    """cat adds the ranks (4 + 8) and is exactly the weighted sum of the updates; dare with the same seed gives
    the same adapter twice (its masks are random)."""
    from safetensors.torch import load_file

    run_id = combine_runs(project, CombineRequest(runs=[1, 3], weights=[1.0, -0.5], how="cat"))
    run = project.run(run_id)
    assert run.name == "1×run 1 − 0.5×run 3 (cat)" and run.config.method_config["r"] == 12
    sources = [str(p) for p in run.config.combined["checkpoints"]]
    expected = engine_logits(sources, [1.0, -0.5], combination_type="cat")
    assert torch.allclose(adapter_logits(project.last_checkpoint(run_id) / "adapter"), expected, atol=1e-5)

    plan = plan_combination(project, CombineRequest(runs=[1, 2], weights=[0.6, 0.4], how="dare_linear", density=0.5, seed=3))
    a, b = (build_adapter(plan, tmp_path / name) and load_file(str(tmp_path / name / "adapter" / "adapter_model.safetensors"))
            for name in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_impossible_combinations_are_refused_naming_the_runs(project, tmp_path):
    def refused(match: str, **kwargs) -> None:
        request = CombineRequest(**{"runs": [1, 2], "weights": [0.5, 0.5], "how": "linear", **kwargs})
        with pytest.raises(RequestError, match=match):
            plan_combination(project, request)

    refused(r"same rank \(run 1 r=4, run 3 r=8\); choose cat or an svd type", runs=[1, 3], how="ties", density=0.5)
    refused(r"same rank", runs=[1, 3], how="linear")
    plan_combination(project, CombineRequest(runs=[1, 3], weights=[1, 1], how="svd", svd_rank=2))  # svd: any ranks
    refused(r"at least two runs \(got 1\)", runs=[1], weights=[1.0])
    refused(r"3 runs but 2 weights", runs=[1, 2, 3])
    refused(r"run 2 is listed twice", runs=[2, 2])
    refused(r"c\.adapterstudio has no run 9 \(runs: 1, 2, 3\)", runs=[1, 9])
    refused(r"needs a density", how="ties")
    refused(r"density must be above 0 and at most 1", how="dare_ties", density=1.5)
    refused(r"SVD rank applies to the svd types only", svd_rank=2)
    refused(r"unknown combination type 'mean'", how="mean")
    refused(r"every weight is 0", weights=[0, 0])
    # a run still in the queue (or training), a run on another base, another method, DoRA
    settings = project.settings()
    queued = project.create_run()
    refused(rf"run {queued} has status queued; only finished runs", runs=[1, queued])

    def finished_run(model: str = "tiny-llama", training: dict | None = None, adapter: dict | None = None) -> int:
        """A completed run whose checkpoint folder holds ``adapter`` as its config (only the config is read)."""
        project.save_settings(ProjectSettings(model=model, method_config=settings.method_config, data=settings.data,
                                              training={**settings.training, **(training or {})}))
        run_id = project.create_run()
        folder = tmp_path / f"run{run_id}" / "checkpoint-3" / "adapter"
        folder.mkdir(parents=True)
        config = json.loads((project.last_checkpoint(1) / "adapter" / "adapter_config.json").read_text())
        (folder / "adapter_config.json").write_text(json.dumps({**config, **(adapter or {})}))
        from core import protocol

        project.claim_run(run_id)
        project.record(run_id, [protocol.Checkpoint(3, str(folder.parent)), protocol.Finished("completed", step=3)])
        return run_id

    gpt2 = finished_run(model="tiny-gpt2")
    refused(rf"runs 1, {gpt2} were not trained on the same base model \(run 1 on tiny-llama; run {gpt2} on tiny-gpt2\)",
            runs=[1, gpt2])
    four_bit = finished_run(training={"base_precision": "4bit"})
    refused(rf"run {four_bit} on tiny-llama \(4bit nf4\)", runs=[1, four_bit])
    ia3 = finished_run(adapter={"peft_type": "IA3"})
    refused(rf"runs 1, {ia3} use different methods \(run 1 LORA, run {ia3} IA3\)", runs=[1, ia3])
    ia3_too = finished_run(adapter={"peft_type": "IA3"})
    refused(r"IA³ runs combine by linear only; choose linear instead of cat", runs=[ia3, ia3_too], how="cat")
    prompts = [finished_run(adapter={"peft_type": "PROMPT_TUNING"}) for _ in range(2)]
    refused(rf"runs {prompts[0]}, {prompts[1]} are PROMPT_TUNING runs, which have no combination rule; runs of LoRA "
            "and IA³ can be combined", runs=prompts)
    dora = finished_run(adapter={"use_dora": True})
    refused(rf"run {dora} trained DoRA adapters", runs=[1, dora])
    pissa = finished_run(adapter={"init_lora_weights": "pissa"})
    refused(rf"run {pissa} started from PiSSA", runs=[pissa, 2])
    regex = finished_run(adapter={"target_modules": ".*q_proj"})
    refused(rf"run {regex}: targets named by a regular expression", runs=[1, regex], how="cat")
    assert [r.id for r in project.runs() if r.config.combined] == []  # nothing was recorded by any refusal


def test_combination_name():
    assert combination_name(["run 3", "run 5"], [0.5, 0.5], "ties") == "0.5×run 3 + 0.5×run 5 (ties)"
    assert combination_name(["a", "b", "c"], [-1, 0.25, -2], "svd") == "−1×a + 0.25×b − 2×c (svd)"


def test_the_cli_combines_exports_and_refuses(trained, tmp_path, capsys):
    from core.cli import main

    path = copy_project(trained, tmp_path)
    assert main(["combine", str(path), "--runs", "1", "3", "--how", "ties", "--density", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("adapter-studio: ties adds the runs' A and B matrices, so they need the same rank "
                          "(run 1 r=4, run 3 r=8)") and "Traceback" not in err
    assert main(["combine", str(path), "--runs", "1", "3", "--weights", "0.7", "-0.3", "--how", "svd", "--svd-rank", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Run 4: 0.7×run 1 − 0.3×run 3 (svd), rank 2; its adapter is in ")
    assert f"adapter-studio export {path} --run 4 --adapter DIR" in out
    assert main(["combine", str(path), "--runs", "1", "2", "--name", "half and half"]) == 0  # equal weights, cat
    assert "Run 5: half and half, rank 8" in capsys.readouterr().out
    assert main(["export", str(path), "--run", "5", "--adapter", str(tmp_path / "a")]) == 0
    assert "Exported run 5" in capsys.readouterr().out
    assert json.loads((tmp_path / "a" / "adapter_config.json").read_text())["r"] == 8
    assert main(["runs", str(path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["name"], r["status"]) for r in rows][3:] == [
        (4, "0.7×run 1 − 0.3×run 3 (svd)", "completed"), (5, "half and half", "completed")]
    with Project.open(path) as project:
        assert project.run(5).config.combined["weights"] == [0.5, 0.5]
        assert [(e["run_id"], e["kind"]) for e in project.exports()] == [(5, "adapter")]


def test_the_type_lists_agree_with_the_engine():
    """core.combine (torch-free) names the engine's rules; LoRA's and IA3's FACTS offer what the engine combines."""
    from core import arithmetic, combine
    from core.methods import catalog

    assert combine.COMBINATION_TYPES == arithmetic.COMBINATION_TYPES and combine.NEEDS_DENSITY == arithmetic.NEEDS_DENSITY
    assert combine.FACTOR_TYPES == arithmetic.FACTOR_TYPES and combine.SVD_TYPES == arithmetic.SVD_TYPES
    assert sorted(catalog.facts("LORA").combination_types) == sorted(arithmetic.COMBINATION_TYPES)
    assert catalog.facts("IA3").combination_types == ("linear",)
    assert [m for m in catalog.names() if catalog.facts(m).combination_types] == ["LORA", "IA3"]
