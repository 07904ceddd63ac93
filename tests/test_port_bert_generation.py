"""BertGeneration without the oracle: choosing the stack and the class from the module's
names, and the config from its shapes, against known bytes. (Bit-identity with 4.57's
loader run through ``hub.Module``: tests/test_port_transformers.py, ``bert_generation_*``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tests.port_cases.bert_generation import SMALL, module_variables

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import load_tf_checkpoint, state_dict_for  # noqa: E402


def _module(tmp_path: Path, *, shared: bool) -> tuple[Path, dict[str, Any]]:
    """The weights of a hub module: a SavedModel-style ``variables/variables`` checkpoint
    in a directory (what a downloaded module holds besides its graph)."""
    rng = np.random.default_rng(3)
    values = {
        n: rng.standard_normal(s).astype(np.float32) if d == "float32" else np.int64(5)
        for n, s, d in module_variables(SMALL, shared=shared)
    }
    root = tmp_path / ("shared" if shared else "bert2bert")
    (root / "variables").mkdir(parents=True)
    tfc.save(str(root / "variables" / "variables"), values)
    return root, values


@pytest.mark.parametrize("shared", [False, True])
def test_decoder_takes_its_own_stack_else_the_shared_one(tmp_path: Path, shared: bool) -> None:
    root, values = _module(tmp_path, shared=shared)
    config = transformers.BertGenerationConfig(**SMALL, is_decoder=True, add_cross_attention=True)
    model = transformers.BertGenerationDecoder(config)
    report = load_tf_checkpoint(model, root)
    assert report.missing == [] and report.computed == ["lm_head.bias"]
    stack = "encoder" if shared else "decoder"
    state = model.state_dict()
    for tf_name, torch_name in [
        ("layer_1/attention/encdec/key/kernel", "layer.1.crossattention.self.key.weight"),
        ("layer_0/attention/encdec_output/dense/kernel",
         "layer.0.crossattention.output.dense.weight"),
        ("layer_1/output/dense/kernel", "layer.1.output.dense.weight"),
    ]:  # fmt: skip
        want = values[f"module/bert/{stack}/{tf_name}"].T
        assert np.array_equal(state["bert.encoder." + torch_name].numpy(), want), tf_name
    assert not state["lm_head.bias"].any()
    words = values["module/bert/embeddings/word_embeddings"]
    assert np.array_equal(state["lm_head.decoder.weight"].numpy(), words)  # tied
    if not shared:
        lacks = "a head or part BertGenerationDecoder lacks"
        assert report.unused["module/bert/encoder/layer_0/output/dense/kernel"] == lacks


def test_state_dict_for_infers_a_decoder_from_a_bert2bert_module(tmp_path: Path) -> None:
    root, values = _module(tmp_path, shared=False)
    flat = state_dict_for(root, "bert-generation")
    cross = "bert.encoder.layer.1.crossattention.self.query.weight"
    assert "lm_head.bias" in flat and cross in flat
    want = values["module/bert/decoder/layer_1/attention/encdec/query/kernel"].T
    assert np.array_equal(flat[cross], want)
    # The inferred config describes the default class (the decoder): the encoder gets its own.
    encoder = state_dict_for(root, "bert-generation", SMALL, model_class="BertGenerationEncoder")
    want = values["module/bert/encoder/layer_1/attention/self/query/kernel"].T
    assert np.array_equal(encoder["encoder.layer.1.attention.self.query.weight"], want)
    assert not any("crossattention" in k for k in encoder)
