"""XLNet: zihangdai/xlnet ``xlnet_model.ckpt`` (untied relative biases, one row a layer) and
a run_classifier regression fine-tune."""

from __future__ import annotations

from . import Case, Var

XLNET = {"vocab_size": 80, "d_model": 32, "n_layer": 2, "n_head": 4, "d_inner": 48,
         "untie_r": True}  # fmt: skip


def xlnet_variables(cfg: dict[str, int], lm: bool = True, task: str = "") -> list[Var]:
    v, d, n, h, ff = (cfg[k] for k in ("vocab_size", "d_model", "n_layer", "n_head", "d_inner"))
    dh = d // h
    t = "model/transformer/"
    w: list[tuple[str, tuple[int, ...]]] = [
        (t + "word_embedding/lookup_table", (v, d)),
        (t + "mask_emb/mask_emb", (1, 1, d)),
        (t + "r_r_bias", (n, h, dh)),
        (t + "r_w_bias", (n, h, dh)),
        (t + "r_s_bias", (n, h, dh)),
        (t + "seg_embed", (n, 2, h, dh)),
    ]
    for i in range(n):
        p = f"{t}layer_{i}/"
        w += [(p + f"rel_attn/{m}/kernel", (d, h, dh)) for m in "qkvor"]
        w += [(p + "rel_attn/LayerNorm/gamma", (d,)), (p + "rel_attn/LayerNorm/beta", (d,))]
        w += [(p + "ff/layer_1/kernel", (d, ff)), (p + "ff/layer_1/bias", (ff,)),
              (p + "ff/layer_2/kernel", (ff, d)), (p + "ff/layer_2/bias", (d,)),
              (p + "ff/LayerNorm/gamma", (d,)), (p + "ff/LayerNorm/beta", (d,))]  # fmt: skip
    if lm:
        w.append(("model/lm_loss/bias", (v,)))
    if task:
        w += [("model/sequnece_summary/summary/kernel", (d, d)),
              ("model/sequnece_summary/summary/bias", (d,)),
              (f"model/regression_{task}/logit/kernel", (d, 1)),
              (f"model/regression_{task}/logit/bias", (1,))]  # fmt: skip
    out: list[Var] = [(name, s, "float32") for name, s in w]
    out += [(name + slot, s, "float32") for name, s in w[:4] for slot in ("/Adam", "/Adam_1")]
    return [*out, ("global_step", (), "int64")]


LOADER = "transformers.models.xlnet.modeling_xlnet:load_tf_weights_in_xlnet"
TOKENS = {"input_ids": [[5, 17, 79, 0, 33, 2], [1, 2, 3, 4, 5, 6]],
          "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]]}  # fmt: skip

CASES = {
    "xlnet_lm": Case(
        model_type="xlnet",
        config=XLNET,
        oracle_class="XLNetLMHeadModel",
        loader=LOADER,
        variables=xlnet_variables(XLNET),
        inputs=TOKENS,
        outputs=("logits",),
    ),
    "xlnet_sts_b": Case(
        model_type="xlnet",
        config={**XLNET, "num_labels": 1, "finetuning_task": "sts-b"},
        oracle_class="XLNetForSequenceClassification",
        loader=LOADER,
        variables=xlnet_variables(XLNET, lm=False, task="sts-b"),
        inputs=TOKENS,
        outputs=("logits",),
    ),
}
