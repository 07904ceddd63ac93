"""Porting to PyTorch: layout helpers (NumPy only), `to_torch` (needs torch), and a live
TF -> PyTorch BERT port (needs tensorflow, torch and transformers)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite as tfc
import tfckpt_lite.torch as tft

RNG = np.random.default_rng(1234)


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape).astype(np.float32)


# -- NumPy-only: layout helpers and rename rules ---------------------------------------------


def conv2d_reference(x: np.ndarray[Any, Any], k_hwio: np.ndarray[Any, Any]) -> Any:
    """TF's VALID NHWC convolution written out: out[n,y,x,o] = sum k[i,j,c,o] x[n,y+i,x+j,c]."""
    h, w, _, _ = k_hwio.shape
    n, hh, ww, _ = x.shape
    out = np.zeros((n, hh - h + 1, ww - w + 1, k_hwio.shape[3]), np.float64)
    for i in range(h):
        for j in range(w):
            out += np.einsum(
                "nyxc,co->nyxo", x[:, i : i + hh - h + 1, j : j + ww - w + 1], k_hwio[i, j]
            )
    return out


def test_layout_helpers_are_views_with_the_right_axes() -> None:
    k = rand(3, 5)
    assert tft.dense_to_linear(k).shape == (5, 3)
    assert np.shares_memory(tft.dense_to_linear(k), k)
    assert tft.conv1d_to_torch(rand(3, 4, 6)).shape == (6, 4, 3)
    assert tft.conv2d_to_torch(rand(3, 2, 4, 6)).shape == (6, 4, 3, 2)
    assert tft.conv3d_to_torch(rand(1, 3, 2, 4, 6)).shape == (6, 4, 1, 3, 2)
    d = rand(3, 3, 4, 2)
    t = tft.depthwise_to_torch(d)
    assert t.shape == (8, 1, 3, 3)
    # channel c, multiplier m -> output channel c * mult + m
    np.testing.assert_array_equal(t[2 * 2 + 1, 0], d[:, :, 2, 1])
    with pytest.raises(ValueError, match="rank 2"):
        tft.dense_to_linear(rand(2, 2, 2))


def test_rename_rules_are_ordered_and_can_drop() -> None:
    rules = [
        (r"^bert/", ""),
        (r"/layer_(\d+)/", r"/layer/\1/"),
        (r"/kernel$", "/weight"),
        *tft.LAYERNORM_RULES,
        (r"^cls/", None),
        ("/", "."),
    ]
    assert (
        tft.rename_key("bert/encoder/layer_3/attention/self/query/kernel", rules)
        == "encoder.layer.3.attention.self.query.weight"
    )
    assert tft.rename_key("bert/encoder/layer_0/output/LayerNorm/gamma", rules) == (
        "encoder.layer.0.output.LayerNorm.weight"
    )
    assert tft.rename_key("cls/predictions/bias", rules) is None
    assert tft.rename_key("x", None) == "x"
    assert tft.rename_key("x", lambda k: k.upper()) == "X"
    bn = [*tft.BATCHNORM_RULES, ("/", ".")]
    assert [tft.rename_key(f"bn/{s}", bn) for s in ("gamma", "beta", "moving_variance")] == [
        "bn.weight",
        "bn.bias",
        "bn.running_var",
    ]


# -- with torch -------------------------------------------------------------------------------


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def test_to_torch_shares_memory_and_keeps_dtypes(torch: Any, tmp_path: Path) -> None:
    k = rand(64, 32)
    bf = np.arange(6, dtype=np.float32).astype(ml_dtypes.bfloat16)
    tfc.save(
        tmp_path / "c",
        {
            "dense/kernel": k,
            "dense/bias": rand(32),
            "bf": bf,
            "f8": np.array([0.5, -2], ml_dtypes.float8_e4m3fn),
            "i4": np.array([-3, 7], ml_dtypes.int4),
            "names": [b"a", b"b"],
            "global_step": np.int64(5),
            "dense/kernel/Adam": rand(64, 32),
        },
    )
    sd = tfc.to_torch(tmp_path / "c", transpose="auto", separator=".")
    assert sorted(sd) == ["bf", "dense.bias", "dense.kernel", "f8", "i4"]
    w = sd["dense.kernel"]
    assert tuple(w.shape) == (32, 64) and w.dtype == torch.float32
    np.testing.assert_array_equal(w.numpy(), k.T)
    assert not w.is_contiguous()  # a strided view of the mapped file, not a copy
    data = tmp_path / "c.data-00000-of-00001"
    before = data.read_bytes()
    w[0, 0] = 1234.0  # copy-on-write: the tensor changes, the file never does
    assert float(w[0, 0]) == 1234.0 and data.read_bytes() == before
    assert sd["bf"].dtype == torch.bfloat16
    assert sd["bf"].float().tolist() == [0, 1, 2, 3, 4, 5]
    assert sd["f8"].dtype == torch.float8_e4m3fn and sd["f8"].float().tolist() == [0.5, -2]
    assert sd["i4"].dtype == torch.int8 and sd["i4"].tolist() == [-3, 7]
    half = tfc.to_torch(tmp_path / "c", dtype=torch.float16)
    assert half["dense/kernel"].dtype == torch.float16 and half["bf"].dtype == torch.float16
    assert half["i4"].dtype == torch.int8  # integers keep their type
    np.testing.assert_allclose(half["dense/kernel"].float().numpy(), k, rtol=1e-3, atol=1e-3)


def test_to_torch_from_open_reader_copies_readonly_memory(torch: Any, tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {"w": rand(4, 4)})
    for readonly in (False, True):
        with tfc.load_checkpoint(tmp_path / "c", readonly=readonly) as r:
            sd = tfc.to_torch(r)
            sd["w"].add_(1.0)  # must not crash; a readonly reader's shared views are copied
            assert float(sd["w"][0, 0]) == pytest.approx(float(r["w"][0, 0]) + 1)


def test_to_torch_rules_collisions_and_tf2_names(torch: Any, tmp_path: Path) -> None:
    tfc.save(
        tmp_path / "c",
        {
            "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": rand(2, 3),
            "model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE": rand(3),
            "model/dense/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE": rand(2, 3),
            "save_counter/.ATTRIBUTES/VARIABLE_VALUE": np.int64(1),
            "_CHECKPOINTABLE_OBJECT_GRAPH": b"\x00",
        },
    )
    sd = tfc.to_torch(
        tmp_path / "c",
        rename=[(r"^model/", ""), (r"kernel$", "weight")],
        transpose=[(r"kernel", "dense")],
        separator=".",
    )
    assert sorted(sd) == ["dense.bias", "dense.weight"]
    assert tuple(sd["dense.weight"].shape) == (3, 2)
    with pytest.raises(ValueError, match="both map to"):
        tfc.to_torch(tmp_path / "c", rename=lambda k: "same")
    with pytest.raises(ValueError, match="unknown layout"):
        tfc.to_torch(tmp_path / "c", transpose=[("kernel", "sideways")])


def test_ported_convolutions_compute_what_tf_layouts_mean(torch: Any) -> None:
    F = torch.nn.functional
    x = rand(2, 7, 6, 3)  # NHWC
    k = rand(3, 2, 3, 5)  # HWIO
    expect = conv2d_reference(x, k)
    got = F.conv2d(
        torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(np.ascontiguousarray(tft.conv2d_to_torch(k))),
    )
    np.testing.assert_allclose(got.numpy().transpose(0, 2, 3, 1), expect, rtol=1e-4, atol=1e-4)
    # depthwise: each input channel c convolved with its own mult filters k[..., c, m]
    d = rand(3, 3, 3, 2)
    expect_dw = np.concatenate(
        [conv2d_reference(x[..., c : c + 1], d[:, :, c : c + 1, :]) for c in range(3)], axis=-1
    )
    got_dw = F.conv2d(
        torch.from_numpy(x.transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(np.ascontiguousarray(tft.depthwise_to_torch(d))),
        groups=3,
    )
    np.testing.assert_allclose(
        got_dw.numpy().transpose(0, 2, 3, 1), expect_dw, rtol=1e-4, atol=1e-4
    )
    # Dense: x @ kernel == Linear(x)
    kd, xd = rand(4, 6), rand(5, 4)
    lin = F.linear(
        torch.from_numpy(xd), torch.from_numpy(np.ascontiguousarray(tft.dense_to_linear(kd)))
    )
    np.testing.assert_allclose(lin.numpy(), xd @ kd, rtol=1e-5, atol=1e-5)


def test_torch_is_imported_lazily() -> None:
    import subprocess

    src = str(Path(__file__).resolve().parents[1] / "src")
    code = "import sys, tfckpt_lite; print('torch' in sys.modules, 'fsspec' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": src},
        check=True,
    ).stdout
    assert out.split() == ["False", "False"]


# -- live: a TF1-style BERT written by TF, run with TF ops, ported to transformers' BertModel --

BERT_RULES: list[tuple[str, str | None]] = [
    (r"^cls/", None),
    (r"^bert/", ""),
    (r"/layer_(\d+)/", r"/layer/\1/"),
    (r"^embeddings/(word|position|token_type)_embeddings$", r"embeddings/\1_embeddings/weight"),
    (r"/kernel$", "/weight"),
    *tft.LAYERNORM_RULES,
]

CFG = {"vocab": 61, "hidden": 32, "layers": 2, "heads": 4, "inter": 37, "pos": 24, "types": 2}


def _bert_variables() -> dict[str, np.ndarray[Any, Any]]:
    h, inter = CFG["hidden"], CFG["inter"]
    v: dict[str, np.ndarray[Any, Any]] = {
        "bert/embeddings/word_embeddings": rand(CFG["vocab"], h) * 0.5,
        "bert/embeddings/position_embeddings": rand(CFG["pos"], h) * 0.5,
        "bert/embeddings/token_type_embeddings": rand(CFG["types"], h) * 0.5,
        "bert/embeddings/LayerNorm/gamma": 1 + 0.1 * rand(h),
        "bert/embeddings/LayerNorm/beta": 0.1 * rand(h),
        "bert/pooler/dense/kernel": rand(h, h) * 0.2,
        "bert/pooler/dense/bias": 0.1 * rand(h),
        "cls/predictions/output_bias": rand(CFG["vocab"]),
        "global_step": np.array(1000, np.int64),
    }
    for i in range(CFG["layers"]):
        p = f"bert/encoder/layer_{i}/"
        for name in (
            "attention/self/query",
            "attention/self/key",
            "attention/self/value",
            "attention/output/dense",
        ):
            v[p + name + "/kernel"] = rand(h, h) * 0.2
            v[p + name + "/bias"] = 0.1 * rand(h)
        v[p + "intermediate/dense/kernel"] = rand(h, inter) * 0.2
        v[p + "intermediate/dense/bias"] = 0.1 * rand(inter)
        v[p + "output/dense/kernel"] = rand(inter, h) * 0.2
        v[p + "output/dense/bias"] = 0.1 * rand(h)
        for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
            v[p + ln + "/gamma"] = 1 + 0.1 * rand(h)
            v[p + ln + "/beta"] = 0.1 * rand(h)
    return v


def _tf_bert_forward(tf: Any, prefix: str, ids: Any, types: Any, mask: Any) -> tuple[Any, Any]:
    """BERT's forward pass with TF ops, every weight read back by TF from the checkpoint."""
    r = tf.train.load_checkpoint(prefix)

    def w(name: str) -> Any:
        return tf.constant(r.get_tensor("bert/" + name))

    def dense(x: Any, name: str) -> Any:
        return tf.matmul(x, w(name + "/kernel")) + w(name + "/bias")

    def layer_norm(x: Any, name: str) -> Any:
        mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + 1e-12) * w(name + "/gamma") + w(name + "/beta")

    batch, seq = ids.shape
    h, heads = CFG["hidden"], CFG["heads"]
    x = (
        tf.gather(w("embeddings/word_embeddings"), ids)
        + tf.gather(w("embeddings/token_type_embeddings"), types)
        + w("embeddings/position_embeddings")[:seq][None]
    )
    x = layer_norm(x, "embeddings/LayerNorm")
    bias = (1.0 - tf.cast(mask, tf.float32))[:, None, None, :] * -1e9

    def split(t: Any) -> Any:
        return tf.transpose(tf.reshape(t, [batch, seq, heads, h // heads]), [0, 2, 1, 3])

    for i in range(CFG["layers"]):
        p = f"encoder/layer_{i}/"
        q = split(dense(x, p + "attention/self/query"))
        k = split(dense(x, p + "attention/self/key"))
        v = split(dense(x, p + "attention/self/value"))
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(h // heads) + bias
        ctx = tf.matmul(tf.nn.softmax(scores, axis=-1), v)
        ctx = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [batch, seq, h])
        x = layer_norm(
            dense(ctx, p + "attention/output/dense") + x, p + "attention/output/LayerNorm"
        )
        inter = tf.nn.gelu(dense(x, p + "intermediate/dense"), approximate=False)
        x = layer_norm(dense(inter, p + "output/dense") + x, p + "output/LayerNorm")
    pooled = tf.tanh(dense(x[:, 0], "pooler/dense"))
    return x.numpy(), pooled.numpy()


def _has(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


# `.ci/run` fails when a `-m tf` test skips, and installs torch and transformers beside
# TensorFlow for these; where they are absent the tests are plain skips, not `tf` tests.
_tf_with_torch = (
    pytest.mark.tf
    if _has("torch", "transformers")
    else pytest.mark.skip(reason="needs torch and transformers")
)
_tf_with_graph = pytest.mark.tf if _has("torch") else pytest.mark.skip(reason="needs torch")


@_tf_with_torch
def test_bert_port_matches_tensorflow(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    variables = _bert_variables()
    prefix = str(tmp_path / "bert_model.ckpt")
    names = sorted(variables)
    # Written by TensorFlow itself, TF1-style names, as the original BERT release.
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(variables[n]) for n in names],
    )
    ids = np.array([[2, 17, 33, 60, 5, 0, 0], [2, 9, 9, 41, 12, 30, 3]], np.int32)
    types = np.array([[0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1]], np.int32)
    mask = np.array([[1, 1, 1, 1, 1, 0, 0], [1] * 7], np.int32)
    tf_seq, tf_pooled = _tf_bert_forward(tf, prefix, ids, types, mask)

    config = transformers.BertConfig(
        vocab_size=CFG["vocab"], hidden_size=CFG["hidden"], num_hidden_layers=CFG["layers"],
        num_attention_heads=CFG["heads"], intermediate_size=CFG["inter"],
        max_position_embeddings=CFG["pos"], type_vocab_size=CFG["types"], hidden_act="gelu",
        layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    model = transformers.BertModel(config).eval()
    state = tfc.to_torch(prefix, rename=BERT_RULES, transpose="auto", separator=".")
    result = model.load_state_dict(state, strict=False)
    assert not result.unexpected_keys
    # Buffers that TF has no variable for (position ids) are all that may be missing.
    assert all("position_ids" in k for k in result.missing_keys), result.missing_keys
    with torch.no_grad():
        out = model(
            input_ids=torch.from_numpy(ids.astype(np.int64)),
            token_type_ids=torch.from_numpy(types.astype(np.int64)),
            attention_mask=torch.from_numpy(mask.astype(np.int64)),
        )
    seq_out = out.last_hidden_state.numpy()
    # Padded positions attend normally in both; compare every position.
    np.testing.assert_allclose(seq_out, tf_seq, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.pooler_output.numpy(), tf_pooled, rtol=1e-4, atol=1e-4)
    assert np.abs(tf_seq).max() > 0.1  # a real signal, not zeros matching zeros


@_tf_with_graph
def test_to_torch_names_by_model_path(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    torch = pytest.importorskip("torch")

    model = tf.Module()
    model.encoder = tf.Module()
    model.encoder.kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    prefix = tf.train.Checkpoint(net=model).write(str(tmp_path / "ckpt"))
    sd = tfc.to_torch(prefix, model_paths=True, transpose="auto", separator=".")
    assert list(sd) == ["net.encoder.kernel"]
    assert isinstance(sd["net.encoder.kernel"], torch.Tensor)
    assert sd["net.encoder.kernel"].tolist() == [[0, 3], [1, 4], [2, 5]]


def test_keras3_port_by_model_path(torch: Any) -> None:
    """Keras 3 stores a Dense kernel as optimizer/_trainable_variables/0; by model path it is
    model/.../_kernel, and "auto" transposes it."""
    pytest.importorskip("tfckpt_lite._graph")
    src = Path(__file__).resolve().parents[1] / "testdata" / "keras3" / "ckpt"
    if not Path(str(src) + ".index").exists():
        pytest.skip("keras3 fixture not present")
    sd = tfc.to_torch(src, model_paths=True, transpose="auto", separator=".")
    w = sd["model._functional._operations.1._kernel"]
    with tfc.load_checkpoint(src) as r:
        tf_kernel = r["optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"]
    assert tuple(w.shape) == tf_kernel.shape[::-1]
    np.testing.assert_array_equal(w.numpy(), tf_kernel.T)
    assert not any(k.startswith("optimizer.") for k in sd)  # optimizer state left out
