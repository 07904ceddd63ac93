"""`tfckpt_lite.transformers` and `tfckpt port` without the oracle: bad input, reports,
strictness, heads, the CLI round trip through transformers 5 ``from_pretrained``.
(Bit-identity with transformers 4.57's loaders: tests/test_port_transformers.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tests.port_cases.bert import BERT, bert_variables
from tfckpt_lite._cli import main

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from tfckpt_lite.transformers import (  # noqa: E402
    PortError,
    load_tf_checkpoint,
    state_dict_for,
    supported_model_types,
)


def _values(variables: list[tuple[str, tuple[int, ...], str]], seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        name: (rng.standard_normal(shape).astype(np.float32) if dt == "float32" else np.int64(7))
        for name, shape, dt in variables
    }


@pytest.fixture
def bert_ckpt(tmp_path: Path) -> tuple[str, dict[str, Any]]:
    values = _values(bert_variables(BERT, adam=True))
    prefix = str(tmp_path / "bert_model.ckpt")
    tfc.save(prefix, values)
    return prefix, values


def _bert(cls: str = "BertForPreTraining", **overrides: Any) -> Any:
    return getattr(transformers, cls)(transformers.BertConfig(**{**BERT, **overrides}))


def _snapshot(model: Any) -> dict[str, Any]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_report_says_where_everything_went(bert_ckpt: tuple[str, dict[str, Any]]) -> None:
    prefix, values = bert_ckpt
    model = _bert()
    report = load_tf_checkpoint(model, prefix)
    assert report.loaded["bert/encoder/layer_1/output/dense/kernel"] == [
        "bert.encoder.layer.1.output.dense.weight"
    ]
    assert report.tied == {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }
    assert report.missing == []
    assert report.unused["global_step"] == "optimizer state or counter"
    assert report.unused["bert/pooler/dense/kernel/adam_m"] == "optimizer state or counter"
    state = model.state_dict()
    kernel = values["bert/encoder/layer_1/output/dense/kernel"]
    assert np.array_equal(state["bert.encoder.layer.1.output.dense.weight"].numpy(), kernel.T)
    # seq_relationship/output_weights is stored [out, in] already: not transposed.
    w = values["cls/seq_relationship/output_weights"]
    assert np.array_equal(state["cls.seq_relationship.weight"].numpy(), w)
    assert "BertForPreTraining (bert)" in str(report)


def test_base_model_drops_the_prefix_and_reports_heads(
    bert_ckpt: tuple[str, dict[str, Any]],
) -> None:
    prefix, values = bert_ckpt
    model = _bert("BertModel")
    report = load_tf_checkpoint(model, prefix)
    emb = values["bert/embeddings/word_embeddings"]
    assert np.array_equal(model.embeddings.word_embeddings.weight.detach().numpy(), emb)
    assert report.unused["cls/predictions/output_bias"] == "a head or part BertModel lacks"


def test_fresh_task_head_is_reported_not_an_error(bert_ckpt: tuple[str, dict[str, Any]]) -> None:
    prefix, _ = bert_ckpt
    report = load_tf_checkpoint(_bert("BertForSequenceClassification"), prefix)
    assert report.missing == ["classifier.weight", "classifier.bias"]


def test_fine_tuned_classifier_and_squad_heads(tmp_path: Path) -> None:
    variables = bert_variables(BERT, heads=False)
    values = _values(variables)
    values["output_weights"] = np.arange(3 * 32, dtype=np.float32).reshape(3, 32)
    values["output_bias"] = np.array([1, 2, 3], np.float32)
    tfc.save(str(tmp_path / "cls"), values)
    model = _bert("BertForSequenceClassification", num_labels=3)
    report = load_tf_checkpoint(model, tmp_path / "cls")
    assert report.missing == []
    assert np.array_equal(model.classifier.weight.detach().numpy(), values["output_weights"])
    sd = state_dict_for(tmp_path / "cls", "bert")  # the class follows the checkpoint
    assert set(sd) >= {"classifier.weight", "bert.pooler.dense.weight"}

    squad = _values(variables)
    squad["cls/squad/output_weights"] = np.ones((2, 32), np.float32)
    squad["cls/squad/output_bias"] = np.zeros(2, np.float32)
    tfc.save(str(tmp_path / "squad"), squad)
    qa = _bert("BertForQuestionAnswering")
    assert load_tf_checkpoint(qa, tmp_path / "squad").missing == []
    assert float(qa.qa_outputs.weight.detach().sum()) == 64.0


def test_sizes_disagreeing_with_config_change_nothing(
    bert_ckpt: tuple[str, dict[str, Any]],
) -> None:
    prefix, _ = bert_ckpt
    model = _bert(intermediate_size=40)
    before = _snapshot(model)
    with pytest.raises(PortError) as e:
        load_tf_checkpoint(model, prefix)
    # The first mismatch in checkpoint (sorted) order is named.
    assert e.value.key == "bert/encoder/layer_0/intermediate/dense/bias"
    assert "(37,)" in str(e.value) and "(40,)" in str(e.value)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "half-loaded model"
    report = load_tf_checkpoint(model, prefix, strict=False)
    # intermediate kernel and bias, output kernel, in both layers
    assert len(report.mismatched) == 6
    assert report.unused["bert/encoder/layer_1/output/dense/kernel"] == "shape mismatch"


def test_missing_tensor_names_the_parameter(tmp_path: Path) -> None:
    values = _values(bert_variables(BERT))
    del values["bert/encoder/layer_1/attention/self/key/bias"]
    tfc.save(str(tmp_path / "m"), values)
    model = _bert()
    before = _snapshot(model)
    with pytest.raises(PortError, match=r"bert\.encoder\.layer\.1\.attention\.self\.key\.bias"):
        load_tf_checkpoint(model, tmp_path / "m")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = load_tf_checkpoint(model, tmp_path / "m", strict=False)
    assert report.missing == ["bert.encoder.layer.1.attention.self.key.bias"]


def test_checkpoint_of_another_architecture(tmp_path: Path) -> None:
    tfc.save(str(tmp_path / "gpt"), {"model/wte": np.zeros((99, 32), np.float32)})
    with pytest.raises(PortError, match="another architecture") as e:
        load_tf_checkpoint(_bert("BertModel"), tmp_path / "gpt")
    assert "model/wte" in str(e.value)


def test_tf2_object_based_checkpoint_is_named(tmp_path: Path) -> None:
    key = "model/bert/embeddings/word_embeddings/embeddings/.ATTRIBUTES/VARIABLE_VALUE"
    tfc.save(str(tmp_path / "tf2"), {key: np.zeros((99, 32), np.float32)})
    with pytest.raises(PortError, match="TF2 object-based checkpoint"):
        load_tf_checkpoint(_bert("BertModel"), tmp_path / "tf2")


def test_caller_mistakes(bert_ckpt: tuple[str, dict[str, Any]]) -> None:
    prefix, _ = bert_ckpt
    with pytest.raises(ValueError, match=r"supported: .*bert"):
        state_dict_for(prefix, "no_such_model")
    with pytest.raises(TypeError, match="model"):
        load_tf_checkpoint(torch.nn.Linear(2, 2), prefix)
    with pytest.raises(ValueError, match="model_class"):
        state_dict_for(prefix, "bert", model_class="BertForNothing")
    assert "bert" in supported_model_types()


def test_state_dict_is_the_callers(bert_ckpt: tuple[str, dict[str, Any]]) -> None:
    prefix, values = bert_ckpt
    sd = state_dict_for(prefix, "bert")
    emb = sd["bert.embeddings.word_embeddings.weight"]
    emb.add_(1.0)  # writable, private: the checkpoint is untouched
    again = tfc.load(prefix)["bert/embeddings/word_embeddings"]
    assert np.array_equal(again, values["bert/embeddings/word_embeddings"])
    assert "cls.predictions.decoder.weight" not in sd  # tied: from_pretrained re-ties it


def test_cli_port_loads_in_from_pretrained(
    bert_ckpt: tuple[str, dict[str, Any]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix, _ = bert_ckpt
    cfg = tmp_path / "bert_config.json"
    cfg.write_text(json.dumps({**BERT, "hidden_act": "gelu"}))
    out = tmp_path / "hf" / "model.safetensors"
    assert main(["port", prefix, str(out), "--arch", "bert", "--config", str(cfg)]) == 0
    assert "BertForPreTraining" in capsys.readouterr().out
    written = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert written["architectures"] == ["BertForPreTraining"]
    model, info = transformers.AutoModelForPreTraining.from_pretrained(
        tmp_path / "hf", output_loading_info=True
    )
    assert type(model).__name__ == "BertForPreTraining"
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert not info["mismatched_keys"]
    ref = _bert()
    load_tf_checkpoint(ref, prefix)
    for k, v in ref.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k

    # Into a bucket (fsspec's memory store): config.json beside the weights, there too.
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://tfckpt-port-{tmp_path.name}/hf/model.safetensors"
    monkeypatch.chdir(tmp_path)
    assert main(["port", prefix, url, "--arch", "bert", "--config", str(cfg), "-q"]) == 0
    mem = fsspec.filesystem("memory")
    assert mem.cat_file(url) == out.read_bytes()
    assert (
        mem.cat_file(url.replace("model.safetensors", "config.json"))
        == (tmp_path / "hf" / "config.json").read_bytes()
    )
    assert not (tmp_path / "memory:").exists()  # nothing local made of the URL
    mem.rm(f"tfckpt-port-{tmp_path.name}", recursive=True)

    assert main(["port", prefix, str(out), "--arch", "nope"]) == 2
    assert main(["port", prefix, str(out), "--arch", "bert", "--class", "BertNope"]) == 2
    tfc.save(str(tmp_path / "gpt"), {"model/wte": np.zeros((9, 4), np.float32)})
    assert main(["port", str(tmp_path / "gpt"), str(out), "--arch", "bert"]) == 1
    assert "another architecture" in capsys.readouterr().err
