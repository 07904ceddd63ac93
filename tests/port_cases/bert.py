"""BERT: google-research/bert ``bert_model.ckpt`` (pre-training heads, Adam slots of a
fine-tuning run, ``global_step``)."""

from __future__ import annotations

from . import Case, Var

BERT = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
}


def layer_variables(p: str, h: int, i: int) -> list[Var]:
    """One TF1 BERT transformer layer under scope `p` (ending in ``/``): hidden `h`,
    intermediate `i`."""
    out: list[Var] = []
    for d in ("attention/self/query", "attention/self/key", "attention/self/value",
              "attention/output/dense"):  # fmt: skip
        out += [(p + d + "/kernel", (h, h), "float32"), (p + d + "/bias", (h,), "float32")]
    out += [
        (p + "intermediate/dense/kernel", (h, i), "float32"),
        (p + "intermediate/dense/bias", (i,), "float32"),
        (p + "output/dense/kernel", (i, h), "float32"),
        (p + "output/dense/bias", (h,), "float32"),
    ]
    for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
        out += [(p + ln + "/gamma", (h,), "float32"), (p + ln + "/beta", (h,), "float32")]
    return out


def bert_variables(
    cfg: dict[str, int], *, scope: str = "bert", heads: bool = True, adam: bool = False
) -> list[Var]:
    v, h, i, n = (cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size",
                                   "num_hidden_layers"))  # fmt: skip
    out: list[Var] = [
        (f"{scope}/embeddings/word_embeddings", (v, h), "float32"),
        (f"{scope}/embeddings/position_embeddings", (cfg["max_position_embeddings"], h), "float32"),
        (f"{scope}/embeddings/token_type_embeddings", (cfg["type_vocab_size"], h), "float32"),
        (f"{scope}/embeddings/LayerNorm/gamma", (h,), "float32"),
        (f"{scope}/embeddings/LayerNorm/beta", (h,), "float32"),
        (f"{scope}/pooler/dense/kernel", (h, h), "float32"),
        (f"{scope}/pooler/dense/bias", (h,), "float32"),
    ]
    for layer in range(n):
        out += layer_variables(f"{scope}/encoder/layer_{layer}/", h, i)
    if heads:
        out += [
            ("cls/predictions/transform/dense/kernel", (h, h), "float32"),
            ("cls/predictions/transform/dense/bias", (h,), "float32"),
            ("cls/predictions/transform/LayerNorm/gamma", (h,), "float32"),
            ("cls/predictions/transform/LayerNorm/beta", (h,), "float32"),
            ("cls/predictions/output_bias", (v,), "float32"),
            ("cls/seq_relationship/output_weights", (2, h), "float32"),
            ("cls/seq_relationship/output_bias", (2,), "float32"),
        ]
    if adam:
        out += [(f"{n_}/{slot}", s, d) for n_, s, d in list(out) for slot in ("adam_m", "adam_v")]
    out.append(("global_step", (), "int64"))
    return out


TOKENS = {"input_ids": [[2, 17, 5, 98, 40, 3], [2, 9, 9, 1, 0, 0]],
          "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip

CASES = {
    "bert_pretraining": Case(
        model_type="bert",
        config=BERT,
        oracle_class="BertForPreTraining",
        loader="transformers.models.bert.modeling_bert:load_tf_weights_in_bert",
        variables=bert_variables(BERT, adam=True),
        inputs=TOKENS,
        outputs=("prediction_logits", "seq_relationship_logits"),
    ),
}
CASES["bert_base"] = Case(
    model_type="bert",
    config=BERT,
    oracle_class="BertModel",
    loader="transformers.models.bert.modeling_bert:load_tf_weights_in_bert",
    variables=bert_variables(BERT, heads=False),
    inputs=TOKENS,
    outputs=("last_hidden_state", "pooler_output"),
)
