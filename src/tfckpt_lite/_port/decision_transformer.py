"""Decision Transformer: its GPT-2 backbone from a GPT-2 TF checkpoint (``model/h<i>/...``,
the names of openai/gpt-2; see gpt2.py), as transformers 4.x's loader took it.

``DecisionTransformerGPT2Model`` is filled completely; ``DecisionTransformerModel`` gets the
backbone (its ``encoder``) and reports its state/action/return embeddings and prediction
heads as not in the checkpoint (no TF release holds them).
"""

from __future__ import annotations

import dataclasses

from .gpt2 import GPT2_RULES
from .gpt2 import RECIPES as GPT2_RECIPES

_ENCODER_RULES = (("^model/", "encoder/"), *GPT2_RULES[1:])

RECIPES = (
    dataclasses.replace(
        GPT2_RECIPES[0],
        model_types=("decision_transformer",),
        rename_by_class=((r"^DecisionTransformerModel$", _ENCODER_RULES),),
        classes=(("DecisionTransformerGPT2Model", None),),
        fresh_heads=(r"^(embed_|predict_)",),
        infer_config=None,
    ),
)
