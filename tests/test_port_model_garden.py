"""TF Model Garden BERT (TF2 object-based checkpoints) into transformers 5 ``BertModel``.

The oracle (tests/_model_garden_oracle.py, in the venv named by ``TFCKPT_ORACLE_PYTHON``,
which .ci/run gives tf-models-official): Model Garden's own ``BertEncoder`` and
``BertEncoderV2`` under TF 2.21 write a checkpoint with random values and their outputs on
fixed inputs. Here `load_tf_checkpoint` fills a ``BertModel``: every parameter must be the
checkpoint's bytes in PyTorch's layout, and the outputs must match Model Garden's within
1e-5 (``hidden_act="gelu_new"``: Model Garden's encoders use the tanh approximation).
transformers 4.57 had no loader for these checkpoints, so there is no 4.57 oracle.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import PortError, load_tf_checkpoint, state_dict_for  # noqa: E402

ORACLE = Path(__file__).with_name("_model_garden_oracle.py")
CONFIG = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 37, "max_position_embeddings": 24, "type_vocab_size": 2,
          "hidden_act": "gelu_new"}  # fmt: skip
INPUTS = {"input_ids": [[2, 17, 5, 98, 40, 3], [2, 9, 9, 1, 0, 0]],
          "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip
ENCODERS = ("BertEncoder", "BertEncoderV2")


@pytest.fixture(scope="module")
def garden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = os.environ.get("TFCKPT_ORACLE_PYTHON")
    if not python:
        pytest.skip("TFCKPT_ORACLE_PYTHON (a venv with TF 2.21 + tf-models-official) not set")
    out = tmp_path_factory.mktemp("model_garden")
    proc = subprocess.run(
        [python, str(ORACLE), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if proc.returncode != 0:
        pytest.fail(f"Model Garden oracle failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return out


def _model() -> Any:
    return transformers.BertModel(transformers.BertConfig(**CONFIG)).eval()


@pytest.mark.parametrize("encoder", ENCODERS)
def test_outputs_match_model_garden(garden: Path, encoder: str) -> None:
    model = _model()
    report = load_tf_checkpoint(model, garden / encoder / "ckpt-1")  # strict
    assert report.missing == [] and report.computed == []
    assert len(report.loaded) == len(model.state_dict())
    assert report.unused["save_counter/.ATTRIBUTES/VARIABLE_VALUE"] == "optimizer state or counter"
    want = np.load(garden / encoder / "outputs.npz")
    with torch.no_grad():
        got = model(**{k: torch.tensor(v) for k, v in INPUTS.items()})
    for name in ("last_hidden_state", "pooler_output"):
        theirs = want["sequence_output" if name == "last_hidden_state" else "pooled_output"]
        torch.testing.assert_close(
            getattr(got, name), torch.from_numpy(theirs), rtol=0, atol=1e-5, msg=name
        )


@pytest.mark.parametrize("encoder", ENCODERS)
def test_parameters_are_the_checkpoint_bytes(garden: Path, encoder: str) -> None:
    prefix = garden / encoder / "ckpt-1"
    reader = tfc.load_checkpoint(str(prefix))
    flat = state_dict_for(prefix, "bert")  # the config comes from the shapes
    report = load_tf_checkpoint(_model(), prefix)
    # Every parameter, with the layout done by hand: 3-D attention kernels flattened per
    # head then transposed, 2-D kernels transposed, the rest as stored.
    for key, (param,) in report.loaded.items():
        tf_value = reader[key]
        if "_dense/kernel" in key and tf_value.ndim == 3 and "_output_dense" in key:
            tf_value = tf_value.reshape(-1, tf_value.shape[-1]).T
        elif tf_value.ndim == 3:
            tf_value = tf_value.reshape(tf_value.shape[0], -1).T
        elif "/kernel/" in key:
            tf_value = tf_value.T
        elif "_dense/bias" in key:
            tf_value = tf_value.reshape(-1)
        assert np.array_equal(flat[param].numpy(), tf_value), key
    assert set(flat) == set(_model().state_dict())


def test_other_object_based_checkpoints_are_refused(tmp_path: Path) -> None:
    """A TF2 checkpoint that is no Model Garden BERT encoder gets the TF2 error, naming it."""
    prefix = str(tmp_path / "ckpt")
    key = "model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE"
    tfc.save(prefix, {key: np.ones((3, 3), np.float32)})
    with pytest.raises(PortError, match=r"TF2 object-based checkpoint.*Model Garden") as e:
        load_tf_checkpoint(_model(), prefix)
    assert key in str(e.value)
