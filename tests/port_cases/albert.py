"""ALBERT: google-research/albert ``model.ckpt`` and its TF Hub form (``module/`` prefix)."""

from __future__ import annotations

from . import Case, Var

ALBERT = {
    "vocab_size": 90, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
    "num_hidden_groups": 1, "inner_group_num": 1, "num_attention_heads": 4,
    "intermediate_size": 37, "max_position_embeddings": 24, "type_vocab_size": 2,
}  # fmt: skip


def albert_variables(cfg: dict[str, int], prefix: str = "", adam: bool = True) -> list[Var]:
    v, e, h, i = (cfg[k] for k in ("vocab_size", "embedding_size", "hidden_size",
                                   "intermediate_size"))  # fmt: skip
    w: list[tuple[str, tuple[int, ...]]] = [
        ("bert/embeddings/word_embeddings", (v, e)),
        ("bert/embeddings/position_embeddings", (cfg["max_position_embeddings"], e)),
        ("bert/embeddings/token_type_embeddings", (cfg["type_vocab_size"], e)),
        ("bert/embeddings/LayerNorm/gamma", (e,)),
        ("bert/embeddings/LayerNorm/beta", (e,)),
        ("bert/encoder/embedding_hidden_mapping_in/kernel", (e, h)),
        ("bert/encoder/embedding_hidden_mapping_in/bias", (h,)),
        ("bert/pooler/dense/kernel", (h, h)),
        ("bert/pooler/dense/bias", (h,)),
        ("cls/predictions/transform/dense/kernel", (h, e)),
        ("cls/predictions/transform/dense/bias", (e,)),
        ("cls/predictions/transform/LayerNorm/gamma", (e,)),
        ("cls/predictions/transform/LayerNorm/beta", (e,)),
        ("cls/predictions/output_bias", (v,)),
        ("cls/seq_relationship/output_weights", (2, h)),
        ("cls/seq_relationship/output_bias", (2,)),
    ]
    for g in range(cfg["num_hidden_groups"]):
        for j in range(cfg["inner_group_num"]):
            p = f"bert/encoder/transformer/group_{g}/inner_group_{j}/"
            for d in ("attention_1/self/query", "attention_1/self/key", "attention_1/self/value",
                      "attention_1/output/dense"):  # fmt: skip
                w += [(p + d + "/kernel", (h, h)), (p + d + "/bias", (h,))]
            w += [
                (p + "LayerNorm/gamma", (h,)),
                (p + "LayerNorm/beta", (h,)),
                (p + "ffn_1/intermediate/dense/kernel", (h, i)),
                (p + "ffn_1/intermediate/dense/bias", (i,)),
                (p + "ffn_1/intermediate/output/dense/kernel", (i, h)),
                (p + "ffn_1/intermediate/output/dense/bias", (h,)),
                (p + "LayerNorm_1/gamma", (h,)),
                (p + "LayerNorm_1/beta", (h,)),
            ]
    out: list[Var] = [(prefix + n, s, "float32") for n, s in w]
    if adam:
        out += [(prefix + n + "/" + m, s, "float32") for n, s in w for m in ("adam_m", "adam_v")]
    out.append(("global_step", (), "int64"))
    return out


TOKENS = {"input_ids": [[2, 17, 5, 89, 40, 3], [2, 9, 9, 1, 0, 0]],
          "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip
LOADER = "transformers.models.albert.modeling_albert:load_tf_weights_in_albert"

CASES = {
    "albert_pretraining": Case(
        model_type="albert",
        config=ALBERT,
        oracle_class="AlbertForPreTraining",
        loader=LOADER,
        variables=albert_variables(ALBERT),
        inputs=TOKENS,
        outputs=("prediction_logits", "sop_logits"),
    ),
    "albert_hub_two_groups": Case(
        model_type="albert",
        config={**ALBERT, "num_hidden_layers": 4, "num_hidden_groups": 2, "inner_group_num": 2},
        oracle_class="AlbertForPreTraining",
        loader=LOADER,
        variables=albert_variables(
            {**ALBERT, "num_hidden_groups": 2, "inner_group_num": 2}, prefix="module/", adam=False
        ),
    ),
}
