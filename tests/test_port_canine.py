"""CANINE beyond the oracle: transformers 4.57's loader skipped every ``cls/...`` key and
crashed on ``answer_type_output_weights`` (a one-component name), so a TyDi QA fine-tune
(``language/canine/tydiqa/tydi_modeling.py``) is checked here against known bytes: the
values TF would hold, with the layouts applied by hand. (Bit-identity of the body with 4.57:
tests/test_port_transformers.py, case ``canine``.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tests.port_cases.canine import CANINE, canine_variables

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import load_tf_checkpoint, state_dict_for  # noqa: E402

TYDI = [
    ("cls/tydi/output_weights", (2, CANINE["hidden_size"]), "float32"),
    ("cls/tydi/output_bias", (2,), "float32"),
    ("answer_type_output_weights", (5, CANINE["hidden_size"]), "float32"),
    ("answer_type_output_bias", (5,), "float32"),
]


@pytest.fixture
def tydi_ckpt(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    rng = np.random.default_rng(12)
    values = {
        name: rng.standard_normal(shape).astype(np.float32) if dt == "float32" else np.int64(9)
        for name, shape, dt in canine_variables(CANINE) + TYDI
    }
    prefix = str(tmp_path / "model.ckpt")
    tfc.save(prefix, values)
    return prefix, values


def test_tydi_fine_tune_fills_the_qa_head(tydi_ckpt: tuple[str, dict[str, Any]]) -> None:
    prefix, values = tydi_ckpt
    config = transformers.CanineConfig(**CANINE)
    model = transformers.CanineForQuestionAnswering(config)
    report = load_tf_checkpoint(model, prefix)  # strict
    assert report.missing == []
    state = model.state_dict()
    # [2, H] logits weights are already nn.Linear's [out, in]: start = row 0, end = row 1.
    assert np.array_equal(state["qa_outputs.weight"].numpy(), values["cls/tydi/output_weights"])
    assert np.array_equal(state["qa_outputs.bias"].numpy(), values["cls/tydi/output_bias"])
    conv = values["initial_char_encoder/initial_char_encoder/chars_to_molecules/conv/kernel"]
    assert np.array_equal(
        state["canine.chars_to_molecules.conv.weight"].numpy(), conv.transpose(2, 1, 0)
    )
    proj = values["final_char_encoder/conv/kernel"]
    assert np.array_equal(state["canine.projection.conv.weight"].numpy(), proj.transpose(2, 1, 0))
    dense = values["bert/layer_1/intermediate/dense/kernel"]
    assert np.array_equal(
        state["canine.encoder.layer.1.intermediate.dense.weight"].numpy(), dense.T
    )
    hash3 = values["char_embeddings/embeddings/HashBucketCodepointEmbedder_3"]
    assert np.array_equal(
        state["canine.char_embeddings.HashBucketCodepointEmbedder_3.weight"].numpy(), hash3
    )
    lacks = "a head or part CanineForQuestionAnswering lacks"
    assert report.unused["answer_type_output_weights"] == lacks
    assert report.unused["global_step"] == "optimizer state or counter"


def test_state_dict_for_picks_the_qa_class_and_infers_the_config(
    tydi_ckpt: tuple[str, dict[str, Any]],
) -> None:
    prefix, values = tydi_ckpt
    flat = state_dict_for(prefix, "canine")
    assert np.array_equal(flat["qa_outputs.weight"].numpy(), values["cls/tydi/output_weights"])
    model = transformers.CanineModel(transformers.CanineConfig(**CANINE))
    body = {k.removeprefix("canine."): v for k, v in flat.items() if k.startswith("canine.")}
    assert set(body) == set(model.state_dict())
    assert all(body[k].shape == v.shape for k, v in model.state_dict().items())
