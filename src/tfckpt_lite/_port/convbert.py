"""ConvBERT: yitu-opensource/ConvBert releases (ELECTRA-style pretraining; the body under
``electra/``).

Release names (BERT layer names plus span-based dynamic convolution):

    electra/embeddings/..., electra/embeddings_project/{kernel,bias}
    electra/encoder/layer_<i>/attention/self/{query,key,value}/{kernel,bias}
    .../attention/self/conv_attn_key/{depthwise_kernel [k, H, 1], pointwise_kernel [1, H, A], bias}
    .../attention/self/conv_attn_kernel/{kernel,bias}, .../attention/self/conv_attn_point/...
    .../attention/output/{dense,LayerNorm}, .../{intermediate,output}/dense (or g_dense:
    the grouped layers of num_groups > 1, kept as ``[groups, in/g, out/g]``),
    .../output/LayerNorm
    generator/..., discriminator_predictions/..., global_step: unused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import BERT_BODY_RULES

Arr = np.ndarray[Any, Any]

CONVBERT_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^electra/", "convbert/"),
    (r"/conv_attn_key/depthwise_kernel$", "/key_conv_attn_layer/depthwise/weight"),
    (r"/conv_attn_key/pointwise_kernel$", "/key_conv_attn_layer/pointwise/weight"),
    (r"/conv_attn_key/bias$", "/key_conv_attn_layer/bias"),
    (r"/conv_attn_kernel/", "/conv_kernel_layer/"),
    (r"/conv_attn_point/", "/conv_out_layer/"),
    (r"/(intermediate|output)/g_dense/", r"/\1/dense/"),
    *BERT_BODY_RULES,
)


def separable_depthwise(a: Arr) -> Arr:
    """SeparableConv1D depthwise ``[k, in, 1]`` -> Conv1d(groups=in) ``[in, 1, k]``."""
    return a.transpose(1, 2, 0)


def separable_pointwise(a: Arr) -> Arr:
    """SeparableConv1D pointwise ``[1, in, out]`` -> Conv1d ``[out, in, 1]``."""
    return a.transpose(2, 1, 0)


def column(a: Arr) -> Arr:
    return a[:, None]


RECIPES = (
    Recipe(
        model_types=("convbert",),
        rename=CONVBERT_RULES,
        layouts=(
            (r"/g_dense/kernel$", "none"),
            (r"/depthwise_kernel$", separable_depthwise),
            (r"/pointwise_kernel$", separable_pointwise),
            (r"/conv_attn_key/bias$", column),
            (r"/kernel$", "dense"),
        ),
        signature=r"^electra/encoder/layer_\d+/attention/self/conv_attn_",
        classes=(("ConvBertModel", None),),
        fresh_heads=(
            r"^(classifier|qa_outputs|sequence_summary|generator_predictions|generator_lm_head)\.",
        ),
    ),
)
