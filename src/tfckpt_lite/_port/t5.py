"""T5 and mT5: mesh-tensorflow releases (``gs://t5-data/pretrained_models/<size>/model.ckpt-N``,
T5 v1.1, mT5).

Release names (mesh-tf: Dense weights ``[in, out]``, no biases; v1.1/mT5 store the weights
in bfloat16, cast to the model's dtype here):

    shared/embedding                                         [vocab, d_model]
    {encoder,decoder}/block_<iii>/layer_<jjj>/SelfAttention/{q,k,v,o}
    {encoder,decoder}/block_000/layer_000/SelfAttention/relative_attention_bias  [heads, buckets]
    decoder/block_<iii>/layer_001/EncDecAttention/{q,k,v,o}
    {encoder,decoder}/block_<iii>/layer_<jjj>/DenseReluDense/{wi,wo}/kernel   (T5 v1.0)
    {encoder,decoder}/block_<iii>/layer_<jjj>/DenseReluDense/{wi_0,wi_1,wo}/kernel (v1.1, mT5)
    {encoder,decoder}/block_<iii>/layer_<jjj>/{layer_norm,rms_norm}/scale
    {encoder,decoder}/{final_layer_norm,rms_norm}/scale
    decoder/logits/kernel [d_model, vocab]      (v1.1, mT5: an LM head not tied to `shared`)
    Adafactor slots <var>_slot_{vc,vr,v}, global_step: unused.

Every 2-D weight is transposed (``relative_attention_bias`` too: transformers keeps it as an
Embedding ``[buckets, heads]``) except ``shared/embedding``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import layer_count

Shape = tuple[int, ...]


def transpose_all(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Reverse every axis (a view): mesh-tf ``[in, out]`` -> torch ``[out, in]``."""
    return a.T


T5_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^shared/embedding$", "shared/weight"),
    (r"^decoder/logits/kernel$", "lm_head/weight"),
    (r"^(encoder|decoder)/(final_layer_norm|rms_norm)/scale$", r"\1/final_layer_norm/weight"),
    (r"/block_0*(\d+)/layer_0*(\d+)/", r"/block/\1/layer/\2/"),
    (r"/(layer_norm|rms_norm)/scale$", "/layer_norm/weight"),
    (r"/(q|k|v|o|relative_attention_bias)$", r"/\1/weight"),
    (r"/kernel$", "/weight"),
)


def _t5_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, d_model = shapes["shared/embedding"]
    heads, buckets = shapes["encoder/block_000/layer_000/SelfAttention/relative_attention_bias"]
    inner = shapes["encoder/block_000/layer_000/SelfAttention/q"][1]
    gated = "encoder/block_000/layer_001/DenseReluDense/wi_0/kernel" in shapes
    wi = "wi_0" if gated else "wi"
    return {
        "vocab_size": vocab,
        "d_model": d_model,
        "d_kv": inner // heads,
        "d_ff": shapes[f"encoder/block_000/layer_001/DenseReluDense/{wi}/kernel"][1],
        "num_heads": heads,
        "relative_attention_num_buckets": buckets,
        "num_layers": layer_count(shapes, r"^encoder/block_(\d+)/"),
        "num_decoder_layers": layer_count(shapes, r"^decoder/block_(\d+)/"),
        "feed_forward_proj": "gated-gelu" if gated else "relu",
        "tie_word_embeddings": "decoder/logits/kernel" not in shapes,
    }


T5 = Recipe(
    model_types=("t5",),
    rename=T5_RULES,
    layouts=((r"^shared/embedding$", "none"), (r".", transpose_all)),
    signature=r"^(shared/embedding$|encoder/block_\d+/layer_\d+/)",
    classes=(("T5ForConditionalGeneration", r"^decoder/block_"), ("T5EncoderModel", None)),
    fresh_heads=(r"^(classification_head|qa_outputs|classifier)\.",),
    infer_config=_t5_config,
)

RECIPES = (
    T5,
    dataclasses.replace(
        T5,
        model_types=("mt5",),
        classes=(("MT5ForConditionalGeneration", r"^decoder/block_"), ("MT5EncoderModel", None)),
    ),
)
