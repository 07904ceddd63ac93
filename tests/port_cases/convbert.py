"""ConvBERT: yitu-opensource/ConvBert layout, plain and grouped (``g_dense``) FFNs."""

from __future__ import annotations

from typing import Any

from . import Case, Var

CONV = {
    "vocab_size": 60, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 40, "max_position_embeddings": 24,
    "head_ratio": 2, "conv_kernel_size": 3, "num_groups": 1,
}  # fmt: skip


def convbert_variables(cfg: dict[str, Any]) -> list[Var]:
    v, e, h, i = (cfg[k] for k in ("vocab_size", "embedding_size", "hidden_size",
                                   "intermediate_size"))  # fmt: skip
    heads = cfg["num_attention_heads"] // cfg["head_ratio"]
    a = heads * (h // cfg["num_attention_heads"])  # all_head_size
    k, g = cfg["conv_kernel_size"], cfg["num_groups"]
    w: list[tuple[str, tuple[int, ...]]] = [
        ("electra/embeddings/word_embeddings", (v, e)),
        ("electra/embeddings/position_embeddings", (cfg["max_position_embeddings"], e)),
        ("electra/embeddings/token_type_embeddings", (2, e)),
        ("electra/embeddings/LayerNorm/gamma", (e,)),
        ("electra/embeddings/LayerNorm/beta", (e,)),
        ("electra/embeddings_project/kernel", (e, h)),
        ("electra/embeddings_project/bias", (h,)),
        ("generator/embeddings_project/kernel", (e, h // 2)),
    ]
    for layer in range(cfg["num_hidden_layers"]):
        p = f"electra/encoder/layer_{layer}/attention/"
        w += [(p + f"self/{m}/kernel", (h, a)) for m in ("query", "key", "value")]
        w += [(p + f"self/{m}/bias", (a,)) for m in ("query", "key", "value")]
        w += [(p + "self/conv_attn_key/depthwise_kernel", (k, h, 1)),
              (p + "self/conv_attn_key/pointwise_kernel", (1, h, a)),
              (p + "self/conv_attn_key/bias", (a,)),
              (p + "self/conv_attn_kernel/kernel", (a, heads * k)),
              (p + "self/conv_attn_kernel/bias", (heads * k,)),
              (p + "self/conv_attn_point/kernel", (h, a)),
              (p + "self/conv_attn_point/bias", (a,)),
              (p + "output/dense/kernel", (h, h)), (p + "output/dense/bias", (h,))]  # fmt: skip
        w += [(p + "output/LayerNorm/gamma", (h,)), (p + "output/LayerNorm/beta", (h,))]
        q = f"electra/encoder/layer_{layer}/"
        if g > 1:
            w += [(q + "intermediate/g_dense/kernel", (g, h // g, i // g)),
                  (q + "output/g_dense/kernel", (g, i // g, h // g))]  # fmt: skip
            dense = "g_dense"
        else:
            w += [(q + "intermediate/dense/kernel", (h, i)), (q + "output/dense/kernel", (i, h))]
            dense = "dense"
        w += [(q + f"intermediate/{dense}/bias", (i,)), (q + f"output/{dense}/bias", (h,))]
        w += [(q + "output/LayerNorm/gamma", (h,)), (q + "output/LayerNorm/beta", (h,))]
    out: list[Var] = [(name, s, "float32") for name, s in w]
    return [*out, ("global_step", (), "int64")]


LOADER = "transformers.models.convbert.modeling_convbert:load_tf_weights_in_convbert"
TOKENS = {"input_ids": [[5, 17, 59, 0, 33, 2, 9, 1]]}
GROUPED = {**CONV, "num_groups": 2}

CASES = {
    "convbert": Case(
        model_type="convbert",
        config=CONV,
        oracle_class="ConvBertModel",
        loader=LOADER,
        variables=convbert_variables(CONV),
        inputs=TOKENS,
        outputs=("last_hidden_state",),
    ),
    "convbert_grouped": Case(
        model_type="convbert",
        config=GROUPED,
        oracle_class="ConvBertModel",
        loader=LOADER,
        variables=convbert_variables(GROUPED),
        inputs=TOKENS,
        outputs=("last_hidden_state",),
    ),
}
