"""RoFormer, ImageGPT and LXMERT ports beyond the oracle cases (tests/port_cases): values
that no TF checkpoint holds (RoFormer's sinusoidal table, ImageGPT's absent biases) against
transformers 5's own, release variants 4.57's loader could not read, and the CLI path into
``from_pretrained``. Checkpoints here are written by this library (byte-identical to TF's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tests.port_cases.roformer import ROFORMER, roformer_variables
from tfckpt_lite._cli import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import load_tf_checkpoint, state_dict_for  # noqa: E402


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
