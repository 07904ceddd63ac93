"""BertGeneration: the bertseq2seq TF-Hub TF1 modules (Rothe et al. 2020: BERT2BERT,
RoBERTa2RoBERTa and their weight-shared variants, ``tfhub.dev/google/bertseq2seq/...``).

A TF1 hub module is a SavedModel directory; its weights are the checkpoint
``variables/variables``, which `tfckpt_lite.load_checkpoint` opens from the directory. The
module's variable names carry two leading scope components (``module/bert/`` in the
releases transformers 4.x converted; any two are taken, as 4.x took them), then BERT's
conventions (Dense ``kernel`` ``[in, out]``, ``LayerNorm/{gamma,beta}``, ``layer_<i>``):

    <a>/<b>/embeddings/{word_embeddings [V, H], position_embeddings [P, H], LayerNorm}
    <a>/<b>/encoder/layer_<i>/{attention/self/{query,key,value},attention/output/dense,
                              intermediate/dense,output/dense}/{kernel,bias}, .../LayerNorm
    <a>/<b>/decoder/layer_<i>/... the same, plus cross-attention:
        attention/encdec/{query,key,value}, attention/encdec_output/{dense,LayerNorm}
    global_step

No token-type table and no LM-head bias: the decoder's output layer is the word embedding
with no bias, so ``lm_head.bias`` is zero (transformers 4.x left its zero initialization).
`BertGenerationEncoder` takes the ``encoder`` stack; `BertGenerationDecoder` takes the
``decoder`` stack when the module has one (4.x: ``is_encoder_named_decoder=True``), else the
``encoder`` stack a weight-shared module uses for both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import BERT_BODY_RULES, BERT_LAYOUTS, heads_for, layer_count

Shape = tuple[int, ...]

_SCOPE = r"^[^/]+/[^/]+/"
_DECODER_STACK = _SCOPE + r"decoder/layer_\d+/"


def _rules(stack: str) -> tuple[tuple[str, str | None], ...]:
    """The module's `stack` (``encoder`` or ``decoder``) into the model's ``bert.encoder``;
    the other stack keeps a name no BertGeneration class has (reported unused)."""
    return (
        (r"(^|/)global_step$", None),
        (_SCOPE, ""),
        (r"^embeddings/", "bert/embeddings/"),
        ("^" + stack + "/", "bert/encoder/"),
        (r"/attention/encdec/", "/crossattention/self/"),
        (r"/attention/encdec_output/", "/crossattention/output/"),
        *BERT_BODY_RULES,
    )


def _zeros(shape: Shape) -> np.ndarray[Any, Any]:
    return np.zeros(shape, np.float32)


def _bert_generation_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    word = next(k for k in shapes if k.endswith("/embeddings/word_embeddings"))
    scope = word[: -len("embeddings/word_embeddings")]
    vocab, hidden = shapes[word]
    decoder = any(k.startswith(scope + "decoder/layer_") for k in shapes)
    stack = scope + ("decoder" if decoder else "encoder")
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layer_count(shapes, "^" + re.escape(stack) + r"/layer_(\d+)/"),
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes[stack + "/layer_0/intermediate/dense/kernel"][1],
        "max_position_embeddings": shapes[scope + "embeddings/position_embeddings"][0],
        "is_decoder": decoder,
        "add_cross_attention": any(
            k.startswith(stack + "/layer_0/attention/") and "/encdec/" in k for k in shapes
        ),
    }


RECIPES = (
    Recipe(
        model_types=("bert-generation",),
        rename=_rules("encoder"),
        rename_by_release=((r"Decoder$", _DECODER_STACK, _rules("decoder")),),
        layouts=BERT_LAYOUTS,
        signature=_SCOPE + r"(encoder|decoder)/layer_\d+/attention/self/query/kernel$",
        classes=(
            ("BertGenerationDecoder", _DECODER_STACK),
            ("BertGenerationEncoder", None),
        ),
        computed=((r"^lm_head\.bias$", _zeros),),
        infer_config=_bert_generation_config,
    ),
)
