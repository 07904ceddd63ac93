"""BigBird: google-research/bigbird pretraining layout (3-D attention kernels, embedding
LayerNorm under ``bert/encoder``)."""

from __future__ import annotations

from typing import Any

from . import Case, Var

BB = {
    "vocab_size": 70, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 40, "max_position_embeddings": 64, "attention_type": "original_full",
}  # fmt: skip


def big_bird_variables(cfg: dict[str, Any]) -> list[Var]:
    v, h, n = int(cfg["vocab_size"]), int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    i, d = int(cfg["intermediate_size"]), h // n
    w: list[tuple[str, tuple[int, ...]]] = [
        ("bert/embeddings/word_embeddings", (v, h)),
        ("bert/embeddings/position_embeddings", (int(cfg["max_position_embeddings"]), h)),
        ("bert/embeddings/token_type_embeddings", (2, h)),
        ("bert/encoder/LayerNorm/gamma", (h,)),
        ("bert/encoder/LayerNorm/beta", (h,)),
        ("bert/pooler/dense/kernel", (h, h)),
        ("bert/pooler/dense/bias", (h,)),
        ("cls/predictions/transform/dense/kernel", (h, h)),
        ("cls/predictions/transform/dense/bias", (h,)),
        ("cls/predictions/transform/LayerNorm/gamma", (h,)),
        ("cls/predictions/transform/LayerNorm/beta", (h,)),
        ("cls/predictions/output_bias", (v,)),
        ("cls/seq_relationship/output_weights", (2, h)),
        ("cls/seq_relationship/output_bias", (2,)),
    ]
    for layer in range(int(cfg["num_hidden_layers"])):
        p = f"bert/encoder/layer_{layer}/"
        for m in ("query", "key", "value"):
            w += [(p + f"attention/self/{m}/kernel", (h, n, d))]
            w += [(p + f"attention/self/{m}/bias", (n, d))]
        w += [(p + "attention/output/dense/kernel", (n, d, h))]
        dense = {"attention/output/dense/bias": (h,), "intermediate/dense/kernel": (h, i),
                 "intermediate/dense/bias": (i,), "output/dense/kernel": (i, h),
                 "output/dense/bias": (h,)}  # fmt: skip
        w += [(p + k, s) for k, s in dense.items()]
        for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
            w += [(p + ln + "/gamma", (h,)), (p + ln + "/beta", (h,))]
    out: list[Var] = [(name, s, "float32") for name, s in w]
    return [*out, ("global_step", (), "int64")]


CASES = {
    "big_bird_pretraining": Case(
        model_type="big_bird",
        config=BB,
        oracle_class="BigBirdForPreTraining",
        loader="transformers.models.big_bird.modeling_big_bird:load_tf_weights_in_big_bird",
        variables=big_bird_variables(BB),
    ),
}
