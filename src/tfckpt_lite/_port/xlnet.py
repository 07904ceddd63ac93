"""XLNet: zihangdai/xlnet releases (``xlnet_model.ckpt``, ``untie_r=True``) and their
run_classifier fine-tunes.

Release names (attention projections stay ``[d_model, n_head, d_head]``; only the
feed-forward, summary and logit kernels are Dense ``[in, out]``):

    model/transformer/word_embedding/lookup_table [V, d], model/transformer/mask_emb/mask_emb
    model/transformer/layer_<i>/rel_attn/{q,k,v,o,r}/kernel, .../rel_attn/LayerNorm/{gamma,beta}
    model/transformer/layer_<i>/ff/{layer_1,layer_2}/{kernel,bias}, .../ff/LayerNorm/...
    model/transformer/{r_r_bias,r_w_bias,r_s_bias} [n_layer, n_head, d_head]  (one row a layer)
    model/transformer/seg_embed [n_layer, 2, n_head, d_head]
    model/lm_loss/bias [V]                      (the LM head's weight is the word embedding)
    model/sequnece_summary/summary/{kernel,bias} (sic), model/regression_<task>/logit/...
    .../Adam, .../Adam_1, global_step: unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import Recipe

Shape = tuple[int, ...]

XLNET_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^model/lm_loss/bias$", "lm_loss/bias"),
    (r"^model/sequnece_summary/summary/(kernel|bias)$", r"sequence_summary/summary/\1"),
    (r"^model/regression_[^/]+/logit/(kernel|bias)$", r"logits_proj/\1"),
    (r"^model/transformer/word_embedding/lookup_table$", "transformer/word_embedding/weight"),
    (r"^model/transformer/mask_emb/mask_emb$", "transformer/mask_emb"),
    (
        r"^model/transformer/(r_r_bias|r_w_bias|r_s_bias|seg_embed)$",
        r"transformer/layer/{}/rel_attn/\1",
    ),
    (r"^model/transformer/layer_(\d+)/", r"transformer/layer/\1/"),
    (r"/rel_attn/([qkvor])/kernel$", r"/rel_attn/\1"),
    (r"/LayerNorm/gamma$", "/layer_norm/weight"),
    (r"/LayerNorm/beta$", "/layer_norm/bias"),
    (r"/kernel$", "/weight"),
)


def _xlnet_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, d_model = shapes["model/transformer/word_embedding/lookup_table"]
    n_layer, n_head, _ = shapes["model/transformer/r_w_bias"]
    return {
        "vocab_size": vocab,
        "d_model": d_model,
        "n_layer": n_layer,
        "n_head": n_head,
        "d_inner": shapes["model/transformer/layer_0/ff/layer_1/kernel"][1],
        "untie_r": True,
    }


RECIPES = (
    Recipe(
        model_types=("xlnet",),
        rename=XLNET_RULES,
        layouts=(
            (
                r"^model/(transformer/layer_\d+/ff/layer_\d|sequnece_summary/summary)/kernel$",
                "dense",
            ),
            (r"^model/regression_[^/]+/logit/kernel$", "dense"),
        ),
        signature=r"^model/transformer/(word_embedding|layer_\d+/rel_attn)/",
        classes=(
            ("XLNetForSequenceClassification", r"^model/sequnece_summary/"),
            ("XLNetLMHeadModel", r"^model/lm_loss/"),
            ("XLNetModel", None),
        ),
        fresh_heads=(r"^(sequence_summary|logits_proj|qa_outputs|classifier)\.",),
        infer_config=_xlnet_config,
    ),
)
