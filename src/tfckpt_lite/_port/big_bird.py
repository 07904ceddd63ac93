"""BigBird: google-research/bigbird pretraining releases (``bigbr_base/model.ckpt-0``).

Release names are BERT's (``bert/encoder/layer_<i>/...``, ``cls/predictions/...``) with
three differences: the embedding LayerNorm lives at ``bert/encoder/LayerNorm``; attention
projections are 3-D (``query|key|value/kernel [H, heads, head_size]`` with bias
``[heads, head_size]``, ``attention/output/dense/kernel [heads, head_size, H]``), flattened
here to transformers' Linear layouts (views). 2-D kernels as in BERT.
Not covered: the TriviaQA fine-tune, which was released as a SavedModel, not a checkpoint.
"""

from __future__ import annotations

import dataclasses

from ._layouts import flat, out_kernel, qkv_kernel
from .bert import BERT_RULES
from .bert import RECIPES as BERT_RECIPES

RECIPES = (
    dataclasses.replace(
        BERT_RECIPES[0],
        model_types=("big_bird",),
        rename=(
            (r"^bert/encoder/LayerNorm/", "bert/embeddings/LayerNorm/"),
            (r"^bert/pooler/dense/", "bert/pooler/"),  # a Linear, not a Dense inside a module
            *BERT_RULES,
        ),
        layouts=(
            (r"/attention/self/(query|key|value)/kernel$", qkv_kernel),
            (r"/attention/self/(query|key|value)/bias$", flat),
            (r"/attention/output/dense/kernel$", out_kernel),
            (r"/kernel$", "dense"),
        ),
        classes=(
            ("BigBirdForPreTraining", r"^cls/seq_relationship/"),
            ("BigBirdForMaskedLM", r"^cls/predictions/transform/"),
            ("BigBirdForQuestionAnswering", r"^cls/squad/"),
            ("BigBirdForSequenceClassification", r"^output_weights$"),
            ("BigBirdModel", None),
        ),
        infer_config=None,
    ),
)
