"""Invariants of the prompt-learning methods and adaption prompt on tiny Bloom / Llama / GPT-2 models.

- generation: each ``generate()`` step's logits equal a full forward pass over the same tokens (batch 2, left
  padding), so greedy output equals greedy decoding by repeated full forward passes (never PEFT's generate);
- training forward: virtual positions carry no loss, attention masks and left/right padding are respected;
- base frozen after a step, disable equals base, save/load exact (for inference and to continue training),
  merge refused, the loss falls on a tiny memorisation task;
- clear errors and PEFT's printed trainable-parameter lines on the bloomz-560m / SmolLM2 skeletons.
"""

from __future__ import annotations

import pytest
import torch
import transformers

import core

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]

FAMILIES = ("bloom", "llama", "gpt2")
VOCAB, HIDDEN = 300, 32


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on these tiny tensors more threads only spin when the shared cores are busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(family: str, seed: int = 0) -> torch.nn.Module:
    """A tiny causal LM in eval mode, deterministic for (family, seed); Llama with GQA (4 heads, 2 KV heads)."""
    if family == "bloom":
        config = transformers.BloomConfig(vocab_size=VOCAB, hidden_size=HIDDEN, n_layer=3, n_head=4,
                                          bos_token_id=1, eos_token_id=2, pad_token_id=3)
        cls = transformers.BloomForCausalLM
    elif family == "llama":
        config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=64, num_hidden_layers=3,
                                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                          bos_token_id=1, eos_token_id=2, pad_token_id=3)
        cls = transformers.LlamaForCausalLM
    else:
        config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=3, n_head=4, n_positions=64,
                                         bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        cls = transformers.GPT2LMHeadModel
    torch.manual_seed(seed)
    model = cls(config)
    with torch.no_grad():  # larger than the default init so every part visibly changes the logits
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.2)
            elif "bias" in name:
                p.normal_(0.0, 0.1)
            else:
                p.uniform_(0.5, 1.5)
    model.name_or_path = f"tiny-{family}"
    return model.eval()


# (id, config factory). Adaption prompt's gate starts at zero; tests that need it to act perturb it.
METHODS = {
    "prompt": lambda: core.PromptTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
    "prompt-vocab": lambda: core.PromptTuningConfig(num_virtual_tokens=3, prompt_tuning_init="SAMPLE_VOCAB", task_type="CAUSAL_LM"),
    "ptuning-mlp": lambda: core.PromptEncoderConfig(num_virtual_tokens=4, encoder_hidden_size=16, task_type="CAUSAL_LM"),
    "ptuning-lstm": lambda: core.PromptEncoderConfig(num_virtual_tokens=3, encoder_hidden_size=8,
                                                     encoder_reparameterization_type="LSTM", task_type="CAUSAL_LM"),
    "prefix": lambda: core.PrefixTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
    "prefix-proj": lambda: core.PrefixTuningConfig(num_virtual_tokens=3, prefix_projection=True, encoder_hidden_size=16,
                                                   task_type="CAUSAL_LM"),
}
if "ADAPTION_PROMPT" in {t.value for t in __import__("core.methods", fromlist=["REGISTRY"]).REGISTRY}:
    METHODS["adaption"] = lambda: core.AdaptionPromptConfig(adapter_len=3, adapter_layers=2, task_type="CAUSAL_LM")

IDS = torch.tensor([[3, 3, 17, 45, 99, 7], [12, 250, 31, 8, 64, 5]])  # (B, L), row 0 left-padded with id 3
MASK = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])


def build(method: str, family: str, seed: int = 0):
    torch.manual_seed(seed)
    model = core.get_peft_model(tiny(family), METHODS[method]())
    if method.startswith("adaption"):  # open the zero-init gates so the adapter changes the output
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("adaption_gate") or ".adaption_gate." in name:
                    p.fill_(0.7)
    return model


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids as transformers' generate derives them from a 2-D mask (pads get 0)."""
    return (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)


def full_logits(model, ids, mask, family):
    """Logits of the real positions from one full forward pass, (B, L, V)."""
    kw = {} if family == "bloom" else {"position_ids": positions(mask)}
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, **kw).logits
    return out[:, -ids.shape[1]:]


CASES = [(m, f) for m in METHODS for f in FAMILIES]


@pytest.mark.parametrize("method, family", CASES)
def test_generate_equals_full_forward_passes(method, family):
    model = build(method, family).eval()
    steps = 4
    out = model.generate(input_ids=IDS, attention_mask=MASK, max_new_tokens=steps, do_sample=False,
                         output_logits=True, return_dict_in_generate=True, pad_token_id=3, eos_token_id=None)
    seq = out.sequences
    assert seq.shape == (2, IDS.shape[1] + steps) and torch.equal(seq[:, : IDS.shape[1]], IDS)
    for t in range(steps):
        cur = seq[:, : IDS.shape[1] + t]
        mask = torch.cat([MASK, torch.ones(2, t, dtype=MASK.dtype)], dim=1)
        full = full_logits(model, cur, mask, family)[:, -1]  # (B, V)
        torch.testing.assert_close(out.logits[t], full, atol=2e-5, rtol=1e-4)
        assert torch.equal(seq[:, IDS.shape[1] + t], full.argmax(-1))  # greedy = greedy by full passes
    with model.disable_adapter(), torch.no_grad():  # the adapter acts in generation, and disabling it works there too
        base = model.generate(input_ids=IDS, attention_mask=MASK, max_new_tokens=steps, do_sample=False,
                              output_logits=True, return_dict_in_generate=True, pad_token_id=3, eos_token_id=None)
    reference = tiny(family).generate(input_ids=IDS, attention_mask=MASK, max_new_tokens=steps, do_sample=False,
                                      output_logits=True, return_dict_in_generate=True, pad_token_id=3, eos_token_id=None)
    torch.testing.assert_close(base.logits[0], reference.logits[0], atol=1e-5, rtol=1e-5)
    assert (out.logits[0] - reference.logits[0]).abs().max() > 1e-3


@pytest.mark.parametrize("method, family", CASES)
def test_padding_masks_and_labels(method, family):
    """A padded row computes what it computes alone; virtual positions carry no loss."""
    model = build(method, family).eval()
    short = torch.tensor([[17, 45, 99]])
    alone = full_logits(model, short, torch.ones(1, 3, dtype=torch.long), family)[0]  # (3, V)
    right = torch.tensor([[17, 45, 99, 3, 3], [5, 6, 7, 8, 9]])
    right_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    torch.testing.assert_close(full_logits(model, right, right_mask, family)[0, :3], alone, atol=2e-5, rtol=1e-4)
    left = torch.tensor([[3, 3, 17, 45, 99], [5, 6, 7, 8, 9]])
    left_mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    torch.testing.assert_close(full_logits(model, left, left_mask, family)[0, 2:], alone, atol=2e-5, rtol=1e-4)
    labels = right.masked_fill(right_mask == 0, -100)
    out = model(input_ids=right, attention_mask=right_mask, labels=labels)
    extra = out.logits.shape[1] - right.shape[1]  # n virtual positions (prompt tuning, P-tuning) or none
    # virtual positions are never targets; the last one predicts the first real token (as PEFT)
    full_labels = torch.cat([torch.full((2, extra), -100), labels], dim=1)
    expected = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, VOCAB), full_labels[:, 1:].reshape(-1))
    torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method, family", CASES)
def test_step_freezes_base_and_disable_equals_base(method, family):
    model = build(method, family)
    base_before = {k: v.clone() for k, v in tiny(family).state_dict().items()}
    adapter_before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert adapter_before and all(n.startswith("prompt_encoder.") or "adaption_" in n for n in adapter_before)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model(input_ids=IDS, attention_mask=MASK, labels=IDS.masked_fill(MASK == 0, -100)).loss.backward()
    opt.step()
    model.eval()
    inner = model.get_base_model().state_dict()
    for key, value in base_before.items():
        torch.testing.assert_close(inner[key] if key in inner else _unwrapped(model, key), value, atol=0, rtol=0)
    assert any(not torch.equal(p, adapter_before[n]) for n, p in model.named_parameters() if n in adapter_before)
    with model.disable_adapter():
        disabled = full_logits(model, IDS, MASK, family)
    torch.testing.assert_close(disabled, full_logits(tiny(family), IDS, MASK, family), atol=0, rtol=0)
    assert not model.adapters_disabled


def _unwrapped(model, key):
    """A base tensor whose module was wrapped (adaption prompt): look it up in the wrapper's base module."""
    for name, value in model.get_base_model().state_dict().items():
        if name.replace(".base_layer.", ".") == key:
            return value
    raise KeyError(key)


@pytest.mark.parametrize("method, family", CASES)
def test_save_load_exact_and_training_continues(method, family, tmp_path):
    model = build(method, family)
    model.save_pretrained(tmp_path)
    expected = full_logits(model, IDS, MASK, family)
    loaded = core.PeftModel.from_pretrained(tiny(family), tmp_path)
    torch.testing.assert_close(full_logits(loaded, IDS, MASK, family), expected, atol=1e-6, rtol=1e-6)
    assert not any(p.requires_grad for p in loaded.parameters())
    # For training on: the same trainable parameters, same values, and one step from either gives the same model.
    resumed = core.PeftModel.from_pretrained(tiny(family), tmp_path, is_trainable=True)
    ours = {n: p for n, p in model.named_parameters() if p.requires_grad}
    theirs = {n: p for n, p in resumed.named_parameters() if p.requires_grad}
    assert ours.keys() == theirs.keys()
    for m in (model, resumed):
        m.train()
        opt = torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=0.1)
        m(input_ids=IDS, attention_mask=MASK, labels=IDS.masked_fill(MASK == 0, -100)).loss.backward()
        opt.step()
        m.eval()
    torch.testing.assert_close(full_logits(resumed, IDS, MASK, family), full_logits(model, IDS, MASK, family), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_merge_is_refused_with_a_pointer_to_export(method):
    model = build(method, "llama")
    with pytest.raises(ValueError, match="cannot be merged.*[Ee]xport"):
        model.merge_and_unload()
    with pytest.raises(ValueError, match="cannot be merged"):
        model.merge_adapter()


@pytest.mark.parametrize("method", list(METHODS))
def test_loss_falls_on_a_memorisation_task(method):
    family = {"prompt": "bloom", "prompt-vocab": "llama", "ptuning-mlp": "gpt2", "ptuning-lstm": "llama",
              "prefix": "bloom", "prefix-proj": "llama", "adaption": "gpt2"}.get(method, "llama")
    torch.manual_seed(0)
    model = core.get_peft_model(tiny(family), METHODS[method]())
    text = torch.tensor([[5, 81, 17, 203, 44, 9, 120, 66, 31, 7]])
    model.train()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    losses = []
    for _ in range(40):
        loss = model(input_ids=text, labels=text).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses  # a 32-wide random model: a few virtual tokens only go so far


def test_clear_errors(tmp_path):
    with pytest.raises(core.ConfigError, match="num_virtual_tokens"):
        core.PromptTuningConfig(num_virtual_tokens=0)
    with pytest.raises(core.ConfigError, match="prompt_tuning_init_text"):
        core.PromptTuningConfig(num_virtual_tokens=2, prompt_tuning_init="TEXT", tokenizer_name_or_path="x")
    with pytest.raises(core.ConfigError, match="When prompt_tuning_init='TEXT', tokenizer_name_or_path can't be None: name"):
        core.PromptTuningConfig(num_virtual_tokens=2, prompt_tuning_init="TEXT", prompt_tuning_init_text="hello")
    with pytest.raises(core.ConfigError, match="MLP or LSTM"):
        core.PromptEncoderConfig(num_virtual_tokens=2, encoder_reparameterization_type="GRU")
    # a file for another model: shapes are checked
    build("prompt", "llama").save_pretrained(tmp_path)
    bigger = transformers.LlamaForCausalLM(transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=48, intermediate_size=64,
                                           num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2))
    with pytest.raises(core.ConfigError, match="token_dim=32 but this model has 48: it was made for a different base model"):
        core.PeftModel.from_pretrained(bigger, tmp_path)
    import json
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 4}))
    with pytest.raises(core.AdapterLoadError, match="prompt_embeddings has shape"):  # minimal config: shapes checked
        core.PeftModel.from_pretrained(bigger, tmp_path)


@pytest.mark.parametrize("cls, name", [(core.PromptTuningConfig, "num_virtual_tokens"), (core.PromptEncoderConfig, "num_virtual_tokens"),
                                       (core.PrefixTuningConfig, "num_virtual_tokens"), (core.AdaptionPromptConfig, "adapter_len"),
                                       (core.AdaptionPromptConfig, "adapter_layers")])
def test_a_config_without_its_length_is_kept_and_refused_where_an_adapter_is_built(cls, name, tmp_path):
    """PEFT accepts these configs with the length left None (they are written, read, copied and pickled) and fails
    only when an adapter is built from one; we do the same, with our sentence at get_peft_model / from_pretrained."""
    import copy
    import json
    import pickle

    given = {"adapter_len": 3, "adapter_layers": 2} if cls is core.AdaptionPromptConfig else {}
    given.pop(name, None)
    config = cls(**given)
    assert getattr(config, name) is None and config.to_dict()[name] is None
    config.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "adapter_config.json").read_text())[name] is None
    assert cls.from_pretrained(tmp_path).to_dict() == config.to_dict()
    for twin in (copy.copy(config), copy.deepcopy(config), pickle.loads(pickle.dumps(config))):
        assert twin.to_dict() == config.to_dict()
    peft = pytest.importorskip("peft")  # the oracle reads our file and keeps the None too
    assert getattr(peft.PeftConfig.from_pretrained(str(tmp_path)), name) is None
    with pytest.raises(core.ConfigError, match=f"{name} is required"):
        core.get_peft_model(tiny("llama"), cls(**given))


def test_architectures_a_method_cannot_serve():
    class NoEmbeds(torch.nn.Module):  # a causal LM whose forward takes token ids only
        config = transformers.PretrainedConfig()

        def forward(self, input_ids=None, attention_mask=None):
            raise AssertionError

    with pytest.raises(core.ConfigError, match="Prompt tuning cannot serve NoEmbeds: it feeds learned vectors.*'inputs_embeds'"):
        core.get_peft_model(NoEmbeds(), core.PromptTuningConfig(num_virtual_tokens=2))
    with pytest.raises(core.ConfigError, match="Prefix tuning cannot serve NoEmbeds: it hands the prefix.*KV cache"):
        core.get_peft_model(NoEmbeds(), core.PrefixTuningConfig(num_virtual_tokens=2))
    t5 = transformers.T5ForConditionalGeneration(transformers.T5Config(vocab_size=VOCAB, d_model=16, d_kv=4, d_ff=32,
                                                                       num_layers=1, num_heads=2))
    with pytest.raises(core.ConfigError, match="P-tuning cannot serve T5ForConditionalGeneration: .*decoder-only"):
        core.get_peft_model(t5, core.PromptEncoderConfig(num_virtual_tokens=2))


def test_text_init_uses_the_token_embeddings(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {w: i for i, w in enumerate(["<unk>", "<s>", "</s>", "<pad>", "the", "capital", "of", "france"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(tmp_path)
    config = core.PromptTuningConfig(num_virtual_tokens=5, prompt_tuning_init="TEXT", prompt_tuning_init_text="the capital",
                                     tokenizer_name_or_path=str(tmp_path), task_type="CAUSAL_LM")
    model = core.get_peft_model(tiny("bloom"), config)
    table = model.prompt_encoder["default"].embedding.weight
    words = model.get_base_model().get_input_embeddings().weight
    torch.testing.assert_close(table, words[[4, 5, 4, 5, 4]])  # repeated to n tokens


SEED_LINES = [
    ("bloomz-560m", lambda: core.PromptTuningConfig(num_virtual_tokens=8, task_type="CAUSAL_LM"),
     "trainable params: 8,192 || all params: 559,222,784 || trainable%: 0.0015"),
    ("bloomz-560m", lambda: core.PromptEncoderConfig(num_virtual_tokens=20, encoder_hidden_size=128, task_type="CAUSAL_LM"),
     "trainable params: 300,288 || all params: 559,514,880 || trainable%: 0.0537"),
    ("bloomz-560m", lambda: core.PrefixTuningConfig(num_virtual_tokens=20, task_type="CAUSAL_LM"),
     "trainable params: 983,040 || all params: 560,197,632 || trainable%: 0.1755"),
    ("bloomz-560m", lambda: core.PrefixTuningConfig(num_virtual_tokens=20, prefix_projection=True, task_type="CAUSAL_LM"),
     "trainable params: 51,450,880 || all params: 610,665,472 || trainable%: 8.4254"),
    ("smollm2-135m-instruct", lambda: core.PromptTuningConfig(num_virtual_tokens=8, task_type="CAUSAL_LM"),
     "trainable params: 4,608 || all params: 134,519,616 || trainable%: 0.0034"),
    ("smollm2-135m-instruct", lambda: core.PromptEncoderConfig(num_virtual_tokens=20, encoder_hidden_size=128, task_type="CAUSAL_LM"),
     "trainable params: 176,192 || all params: 134,691,200 || trainable%: 0.1308"),
    ("smollm2-135m-instruct", lambda: core.PrefixTuningConfig(num_virtual_tokens=20, task_type="CAUSAL_LM"),
     "trainable params: 230,400 || all params: 134,745,408 || trainable%: 0.1710"),
    ("smollm2-135m-instruct", lambda: core.PrefixTuningConfig(num_virtual_tokens=20, prefix_projection=True, task_type="CAUSAL_LM"),
     "trainable params: 2,264,256 || all params: 136,779,264 || trainable%: 1.6554"),
]


@pytest.mark.parametrize("ref, config, line", SEED_LINES)
def test_print_trainable_parameters_matches_peft(ref, config, line, capsys):
    from core.models import skeleton

    core.get_peft_model(skeleton(ref), config()).print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line


# ---- adaption prompt specifics ---------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_adaption_prompt_at_init_equals_base(family):
    model = core.get_peft_model(tiny(family), core.AdaptionPromptConfig(adapter_len=3, adapter_layers=2, task_type="CAUSAL_LM"))
    assert model.peft_config["default"].target_modules == {"bloom": "self_attention", "llama": "self_attn", "gpt2": "attn"}[family]
    torch.testing.assert_close(full_logits(model, IDS, MASK, family), full_logits(tiny(family), IDS, MASK, family), atol=0, rtol=0)
    keys = sorted(model.adapter_state_dict())
    block = {"bloom": "transformer.h", "llama": "model.layers", "gpt2": "transformer.h"}[family]
    attn = model.peft_config["default"].target_modules
    assert keys == [f"base_model.model.{block}.{i}.{attn}.adaption_{w}" for i in (1, 2) for w in ("gate", "prompt")]


def test_adaption_prompt_errors():
    with pytest.raises(core.ConfigError, match="adapter_layers=4 but this model has only 3 layers"):
        core.get_peft_model(tiny("bloom"), core.AdaptionPromptConfig(adapter_len=2, adapter_layers=4))
    with pytest.raises(core.ConfigError, match="adapter_len must be a whole number"):
        core.AdaptionPromptConfig(adapter_len=0, adapter_layers=1)
    opt = transformers.OPTForCausalLM(transformers.OPTConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1,
                                                              ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16))
    with pytest.raises(core.ConfigError, match="cannot serve a 'opt' model: it must recompute each attention layer's queries"):
        core.get_peft_model(opt, core.AdaptionPromptConfig(adapter_len=2, adapter_layers=1))


ADAPTION_LINES = [
    ("bloomz-560m", 10, 8, "trainable params: 81,928 || all params: 559,296,520 || trainable%: 0.0146"),  # 8·(10·1024+1)
    ("smollm2-135m-instruct", 10, 30, "trainable params: 172,830 || all params: 134,687,838 || trainable%: 0.1283"),
    ("smollm2-135m-instruct", 10, 8, "trainable params: 46,088 || all params: 134,561,096 || trainable%: 0.0343"),
    ("smollm2-135m-instruct", 10, 1, "trainable params: 5,761 || all params: 134,520,769 || trainable%: 0.0043"),
]


@pytest.mark.parametrize("ref, length, layers, line", ADAPTION_LINES)
def test_adaption_prompt_counts_match_peft(ref, length, layers, line, capsys):
    from core.models import skeleton

    model = core.get_peft_model(skeleton(ref), core.AdaptionPromptConfig(adapter_len=length, adapter_layers=layers))
    model.print_trainable_parameters()
    assert capsys.readouterr().out.strip() == line


def test_prefix_tuning_on_a_module_tree_without_forward_saves_and_loads(tmp_path):
    """A bare module tree (no forward(), no input embedding), as PEFT's key-mapping tests build: the adapter is
    made, saved and loaded as in PEFT; nothing can refuse the forward it does not have until it is called."""
    class Bare(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = transformers.PretrainedConfig()
            self.layers = torch.nn.ModuleList([torch.nn.Linear(10, 10) for _ in range(2)])

    config = dict(task_type="CAUSAL_LM", num_virtual_tokens=5, num_layers=2, token_dim=10, num_attention_heads=2)
    model = core.get_peft_model(Bare(), core.PrefixTuningConfig(**config))
    model.prompt_encoder["default"].embedding.weight.data.fill_(1.0)
    model.save_pretrained(tmp_path)
    loaded = core.PeftModel.from_pretrained(Bare(), tmp_path)
    weight = loaded.prompt_encoder["default"].embedding.weight
    torch.testing.assert_close(weight, torch.ones_like(weight))
