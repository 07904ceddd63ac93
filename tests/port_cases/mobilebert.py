"""MobileBERT: the google-research release layout (bottlenecks, FakeLayerNorm, stacked FFNs)."""

from __future__ import annotations

from . import Case, Var

MB = {
    "vocab_size": 60, "embedding_size": 8, "hidden_size": 32, "true_hidden_size": 16,
    "intra_bottleneck_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 24, "num_feedforward_networks": 2, "max_position_embeddings": 24,
}  # fmt: skip


def _dense(p: str, i: int, o: int) -> list[tuple[str, tuple[int, ...]]]:
    return [(p + "/kernel", (i, o)), (p + "/bias", (o,))]


def _norm(p: str, n: int, fake: bool = True) -> list[tuple[str, tuple[int, ...]]]:
    p += "/FakeLayerNorm" if fake else "/LayerNorm"
    return [(p + "/gamma", (n,)), (p + "/beta", (n,))]


def mobilebert_variables(cfg: dict[str, int]) -> list[Var]:
    v, e, h = cfg["vocab_size"], cfg["embedding_size"], cfg["hidden_size"]
    t, b, i = cfg["true_hidden_size"], cfg["intra_bottleneck_size"], cfg["intermediate_size"]
    w: list[tuple[str, tuple[int, ...]]] = [
        ("bert/embeddings/word_embeddings", (v, e)),
        ("bert/embeddings/position_embeddings", (cfg["max_position_embeddings"], h)),
        ("bert/embeddings/token_type_embeddings", (2, h)),
        *_dense("bert/embeddings/embedding_transformation", 3 * e, h),
        *_norm("bert/embeddings", h),
        *_dense("bert/pooler/dense", h, h),
        *_dense("cls/predictions/transform/dense", h, h),
        *_norm("cls/predictions/transform", h, fake=False),
        ("cls/predictions/extra_output_weights", (v, h - e)),
        ("cls/predictions/output_bias", (v,)),
        ("cls/seq_relationship/output_weights", (2, h)),
        ("cls/seq_relationship/output_bias", (2,)),
    ]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"bert/encoder/layer_{layer}/"
        w += _dense(p + "attention/self/query", t, t) + _dense(p + "attention/self/key", t, t)
        w += _dense(p + "attention/self/value", h, t) + _dense(p + "attention/output/dense", t, t)
        w += _norm(p + "attention/output", t)
        w += _dense(p + "bottleneck/input/dense", h, b) + _norm(p + "bottleneck/input", b)
        w += _dense(p + "bottleneck/attention/dense", h, b) + _norm(p + "bottleneck/attention", b)
        for f in range(cfg["num_feedforward_networks"] - 1):
            q = p + f"ffn_layer_{f}/"
            w += _dense(q + "intermediate/dense", t, i) + _dense(q + "output/dense", i, t)
            w += _norm(q + "output", t)
        w += _dense(p + "intermediate/dense", t, i) + _dense(p + "output/dense", i, t)
        w += _norm(p + "output", t)
        w += _dense(p + "output/bottleneck/dense", t, h) + _norm(p + "output/bottleneck", h)
    out: list[Var] = [(n, s, "float32") for n, s in w]
    return [*out, ("global_step", (), "int64")]


CASES = {
    "mobilebert_pretraining": Case(
        model_type="mobilebert",
        config=MB,
        oracle_class="MobileBertForPreTraining",
        loader="transformers.models.mobilebert.modeling_mobilebert:load_tf_weights_in_mobilebert",
        variables=mobilebert_variables(MB),
        inputs={"input_ids": [[2, 17, 5, 59, 40, 3]], "attention_mask": [[1, 1, 1, 1, 1, 0]]},
        outputs=("prediction_logits", "seq_relationship_logits"),
    ),
}
