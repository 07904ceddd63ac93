"""RoFormer, ImageGPT and LXMERT ports beyond the oracle cases (tests/port_cases): values
that no TF checkpoint holds (RoFormer's sinusoidal table, ImageGPT's absent biases) against
transformers 5's own, release variants 4.57's loader could not read, and the CLI path into
``from_pretrained``. Checkpoints here are written by this library (byte-identical to TF's)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tests._port_oracle import variables_from_walker
from tests.port_cases import all_cases
from tests.port_cases.bert import bert_variables
from tests.port_cases.imagegpt import IMAGEGPT, imagegpt_variables
from tests.port_cases.lxmert import LXMERT
from tests.port_cases.roformer import ROFORMER, roformer_variables
from tfckpt_lite._cli import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import PortError, load_tf_checkpoint, state_dict_for  # noqa: E402


def _save(path: Path, variables: list[tuple[str, tuple[int, ...], str]]) -> dict[str, Any]:
    rng = np.random.default_rng(12)
    values = {n: rng.standard_normal(s).astype(np.float32) for n, s, _ in variables}
    tfc.save(str(path), values)
    return values


def _bits(t: Any) -> Any:
    return t.detach().contiguous().view(torch.int32)


# -- RoFormer -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "hidden", "heads"),
    [(1536, 768, 12), (1536, 384, 6), (512, 1024, 16), (24, 30, 6)],  # releases; odd width
)
def test_roformer_table_is_transformers_own(
    tmp_path: Path, positions: int, hidden: int, heads: int
) -> None:
    """The computed sinusoidal table is bit-identical to the one a freshly constructed
    transformers 5 model holds (release sizes, and an odd head width)."""
    cfg = {**ROFORMER, "hidden_size": hidden, "embedding_size": hidden, "num_hidden_layers": 1,
           "num_attention_heads": heads, "intermediate_size": 8,
           "max_position_embeddings": positions}  # fmt: skip
    _save(tmp_path / "r", roformer_variables(cfg, mlm=False))
    fresh = transformers.RoFormerModel(transformers.RoFormerConfig(**cfg))
    want = fresh.encoder.embed_positions.weight
    model = transformers.RoFormerModel(transformers.RoFormerConfig(**cfg))
    with torch.no_grad():
        model.encoder.embed_positions.weight.zero_()
    report = load_tf_checkpoint(model, tmp_path / "r")
    assert report.computed == ["encoder.embed_positions.weight"]
    assert report.missing == []
    assert torch.equal(_bits(model.encoder.embed_positions.weight), _bits(want))
    assert "1 computed" in str(report) and "computed (a constant" in str(report)
    flat = state_dict_for(tmp_path / "r", "roformer", cfg, model_class="RoFormerModel")
    assert torch.equal(_bits(flat["encoder.embed_positions.weight"]), _bits(want))


def test_roformer_sim_pooler_and_nsp_are_reported_unused(tmp_path: Path) -> None:
    """The -sim releases add bert/pooler and cls/seq_relationship, which transformers'
    RoFormer has no module for (4.57's loader failed on them)."""
    extra = [("bert/pooler/dense/kernel", (32, 32), "float32"),
             ("bert/pooler/dense/bias", (32,), "float32"),
             ("cls/seq_relationship/output_weights", (2, 32), "float32"),
             ("cls/seq_relationship/output_bias", (2,), "float32")]  # fmt: skip
    values = _save(tmp_path / "sim", roformer_variables(ROFORMER) + extra)
    model = transformers.RoFormerForMaskedLM(transformers.RoFormerConfig(**ROFORMER))
    report = load_tf_checkpoint(model, tmp_path / "sim")
    assert report.missing == []
    assert {k: report.unused[k] for k, _, _ in extra} == {
        k: "a head or part RoFormerForMaskedLM lacks" for k, _, _ in extra
    }
    kernel = values["bert/encoder/layer_1/attention/self/value/kernel"]
    got = model.roformer.encoder.layer[1].attention.self.value.weight.detach().numpy()
    assert np.array_equal(got, kernel.T)
    assert report.tied["cls.predictions.decoder.weight"] == (
        "roformer.embeddings.word_embeddings.weight"
    )


def test_roformer_cli_port_then_base_model_from_pretrained(tmp_path: Path) -> None:
    """`tfckpt port SRC DST --arch roformer --config config.json` writes the table, so
    transformers 5 ``RoFormerModel.from_pretrained`` reports nothing missing."""
    values = _save(tmp_path / "bert_model.ckpt", roformer_variables(ROFORMER))
    cfg = tmp_path / "bert_config.json"
    cfg.write_text(json.dumps({**ROFORMER, "hidden_act": "gelu"}))
    out = tmp_path / "hf" / "model.safetensors"
    argv = ["port", str(tmp_path / "bert_model.ckpt"), str(out), "--arch", "roformer",
            "--config", str(cfg), "-q"]  # fmt: skip
    assert main(argv) == 0
    written = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert written["architectures"] == ["RoFormerForMaskedLM"]
    model, info = transformers.RoFormerModel.from_pretrained(
        tmp_path / "hf", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["mismatched_keys"], info
    fresh = transformers.RoFormerModel(transformers.RoFormerConfig(**ROFORMER))
    table = model.encoder.embed_positions.weight
    assert torch.equal(_bits(table), _bits(fresh.encoder.embed_positions.weight))
    emb = values["bert/embeddings/word_embeddings"]
    assert np.array_equal(model.embeddings.word_embeddings.weight.detach().numpy(), emb)


# -- ImageGPT: parts joined into one parameter (the engine's "#k/n@axis" marker) ----------


def _igpt(cls: str, **overrides: Any) -> Any:
    return getattr(transformers, cls)(transformers.ImageGPTConfig(**{**IMAGEGPT, **overrides}))


def test_imagegpt_parts_join_into_c_attn_and_wte(tmp_path: Path) -> None:
    values = _save(tmp_path / "igpt", imagegpt_variables(IMAGEGPT, clf=0)[:-1])
    model = _igpt("ImageGPTForCausalImageModeling")
    report = load_tf_checkpoint(model, tmp_path / "igpt")
    e = IMAGEGPT["n_embd"]
    c_attn = model.transformer.h[1].attn.c_attn.weight.detach().numpy()
    for k, part in enumerate(("q_proj", "k_proj", "v_proj")):
        w = values[f"model/h1/attn/{part}"]  # [heads, e/heads, in]: rows are outputs
        assert np.array_equal(c_attn[:, k * e : (k + 1) * e], w.reshape(e, e).T), part
    c_proj = values["model/h1/attn/c_proj"].reshape(e, e)  # rows are inputs
    assert np.array_equal(model.transformer.h[1].attn.c_proj.weight.detach().numpy(), c_proj)
    wte = model.transformer.wte.weight.detach().numpy()
    assert np.array_equal(wte[:-1], values["model/wte"])
    assert np.array_equal(wte[-1], values["model/sos"])
    assert np.array_equal(model.lm_head.weight.detach().numpy(), values["model/wtet"])
    assert report.loaded["model/h1/attn/k_proj"] == ["transformer.h.1.attn.c_attn.weight"]
    # The release's layers have no biases: zeros, reported as computed.
    assert len(report.computed) == 4 * IMAGEGPT["n_layer"]
    assert all(not model.get_parameter(p).any() for p in report.computed)
    assert report.missing == []


def test_imagegpt_missing_part_fails_before_touching_the_model(tmp_path: Path) -> None:
    variables = [v for v in imagegpt_variables(IMAGEGPT) if v[0] != "model/h1/attn/k_proj"]
    _save(tmp_path / "igpt", variables[:-1])
    model = _igpt("ImageGPTForCausalImageModeling")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PortError, match=r"transformer\.h\.1\.attn\.c_attn\.weight needs 3 parts"):
        load_tf_checkpoint(model, tmp_path / "igpt")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_imagegpt_bare_model_and_linear_probe(tmp_path: Path) -> None:
    values = _save(tmp_path / "probe", imagegpt_variables(IMAGEGPT, clf=10)[:-1])
    full = _igpt("ImageGPTForCausalImageModeling")
    load_tf_checkpoint(full, tmp_path / "probe")

    bare = _igpt("ImageGPTModel")
    report = load_tf_checkpoint(bare, tmp_path / "probe")
    assert report.unused["model/wtet"] == "a head or part ImageGPTModel lacks"
    for key, value in bare.state_dict().items():
        assert torch.equal(value, full.state_dict()["transformer." + key]), key

    # The linear-probe fine-tunes hold model/clf/wclf: the class follows it, sizes come
    # from the shapes (head count included: q_proj is [heads, E/heads, E]).
    flat = state_dict_for(tmp_path / "probe", "imagegpt")
    assert np.array_equal(flat["score.weight"].numpy(), values["model/clf/wclf"])
    clf = _igpt("ImageGPTForImageClassification", num_labels=10)
    assert load_tf_checkpoint(clf, tmp_path / "probe").missing == []
    out = tmp_path / "hf" / "model.safetensors"
    assert main(["port", str(tmp_path / "probe"), str(out), "--arch", "imagegpt", "-q"]) == 0
    cfg = transformers.ImageGPTConfig(**{**IMAGEGPT, "num_labels": 10})
    model, info = transformers.ImageGPTForImageClassification.from_pretrained(
        tmp_path / "hf", config=cfg, output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert torch.equal(model.score.weight, clf.score.weight)


def test_imagegpt_refuses_a_gpt2_checkpoint(tmp_path: Path) -> None:
    gpt2 = {"model/wte": (16, 32), "model/h0/attn/c_attn/w": (1, 32, 96)}
    tfc.save(str(tmp_path / "gpt2"), {k: np.zeros(s, np.float32) for k, s in gpt2.items()})
    with pytest.raises(PortError, match="another architecture"):
        load_tf_checkpoint(_igpt("ImageGPTModel"), tmp_path / "gpt2")


# -- LXMERT: both spellings of a list index; sizes from the shapes -------------------------


def test_lxmert_index_spellings_and_sizes_from_shapes(tmp_path: Path) -> None:
    """4.57's walker read ``x_layers/<i>`` (it split indices only off ``<letters>_<i>``);
    ``x_layers_<i>``, the TF1 habit, loads the same. Without a config, the sizes (layer
    counts of all three stacks, visual and label sizes) come from the shapes."""
    case = all_cases()["lxmert_pretraining"]
    walker = [v for v in variables_from_walker(case) if v[2] == "float32"]
    assert any("/x_layers/1/" in n for n, _, _ in walker)
    values = _save(tmp_path / "slash", walker)
    habit = {re.sub(r"/(x_layers|r_layers|logit_fc)/(\d+)/", r"/\1_\2/", k): v
             for k, v in values.items()}  # fmt: skip
    tfc.save(str(tmp_path / "underscore"), habit)

    config = transformers.LxmertConfig(**LXMERT)
    a = transformers.LxmertForPreTraining(config)
    b = transformers.LxmertForPreTraining(config)
    assert load_tf_checkpoint(a, tmp_path / "slash").missing == []
    assert load_tf_checkpoint(b, tmp_path / "underscore").missing == []
    sb = b.state_dict()
    assert all(torch.equal(v, sb[k]) for k, v in a.state_dict().items())
    w = values["lxmert/encoder/x_layers/1/visn_inter/dense/kernel"]
    got = a.lxmert.encoder.x_layers[1].visn_inter.dense.weight.detach().numpy()
    assert np.array_equal(got, w.T)

    flat = state_dict_for(tmp_path / "underscore", "lxmert")  # no config
    assert set(flat) | {"cls.predictions.decoder.weight"} == set(sb)
    assert all(torch.equal(v, sb[k]) for k, v in flat.items())

    bare = transformers.LxmertModel(config)
    report = load_tf_checkpoint(bare, tmp_path / "slash")
    assert report.unused["answer_head/logit_fc/3/kernel"] == "a head or part LxmertModel lacks"
    assert all(torch.equal(v, sb["lxmert." + k]) for k, v in bare.state_dict().items())


def test_roformer_refuses_a_bert_checkpoint(tmp_path: Path) -> None:
    """BERT's names fit RoFormer's but for the learned position table: refused, named."""
    _save(tmp_path / "bert", bert_variables(ROFORMER)[:-1])
    model = transformers.RoFormerForMaskedLM(transformers.RoFormerConfig(**ROFORMER))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(PortError, match=r"another architecture \(BERT") as e:
        load_tf_checkpoint(model, tmp_path / "bert")
    assert e.value.key == "bert/embeddings/position_embeddings"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    out = tmp_path / "hf" / "model.safetensors"
    assert main(["port", str(tmp_path / "bert"), str(out), "--arch", "roformer", "-q"]) == 1
