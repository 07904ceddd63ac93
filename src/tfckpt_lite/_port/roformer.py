"""RoFormer: ZhuiyiTechnology/roformer releases (``chinese_roformer[-char|-sim-char|-gpt-char]
_L-<n>_H-<h>_A-<a>/bert_model.ckpt``), written by bert4keras with BERT's TF1 names:

    bert/embeddings/{word,token_type}_embeddings, bert/embeddings/LayerNorm/{gamma,beta}
    bert/encoder/layer_<i>/...                 BERT's layer names, Dense kernels [in, out]
    cls/predictions/{transform/{dense,LayerNorm},output_bias}   (decoder = embeddings)
    bert/pooler/dense, cls/seq_relationship    (-sim releases): transformers has no pooler
                                               or NSP head for RoFormer, so they are unused

There are no position embeddings: rotary attention takes its angles from a fixed sinusoidal
table, which transformers keeps among the weights (``encoder.embed_positions.weight``). It is
computed here, as transformers' own constructor computes it, so the state dict is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import BERT_LAYOUTS, BERT_RULES, heads_for, layer_count

Shape = tuple[int, ...]


def sinusoidal_table(shape: Shape) -> np.ndarray[Any, Any]:
    """The ``[positions, dim]`` table of transformers' RoFormer (float32): for column pair
    ``k`` the angle is ``pos / 10000 ** (2k / dim)``; the sines of all pairs fill the first
    ``ceil(dim / 2)`` columns, the cosines the rest.

    Bit-identical to transformers' constructor, which computes in float64 and rounds once:
    each frequency is one scalar power (a vectorised power may differ in the last bit), the
    angles one exact division, and sine and cosine run on the same strided halves of the
    ``[positions, dim]`` angle matrix (NumPy's vectorised sine can depend on the stride).
    """
    n_pos, dim = shape
    freq = np.array([np.power(10000, 2 * (j // 2) / dim) for j in range(dim)], np.float64)
    angle = np.arange(n_pos, dtype=np.float64)[:, None] / freq
    out = np.empty((n_pos, dim), np.float32)
    half = (dim + 1) // 2
    out[:, :half] = np.sin(angle[:, 0::2])
    out[:, half:] = np.cos(angle[:, 1::2])
    return out


def _roformer_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, emb = shapes["bert/embeddings/word_embeddings"]
    hidden = shapes["bert/encoder/layer_0/attention/self/query/kernel"][1]
    return {
        "vocab_size": vocab,
        "embedding_size": emb,
        "hidden_size": hidden,
        "num_hidden_layers": layer_count(shapes, r"^bert/encoder/layer_(\d+)/"),
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes["bert/encoder/layer_0/intermediate/dense/kernel"][1],
        "type_vocab_size": shapes["bert/embeddings/token_type_embeddings"][0],
    }


RECIPES = (
    Recipe(
        model_types=("roformer",),
        rename=((r"^bert/", "roformer/"), *BERT_RULES),
        layouts=BERT_LAYOUTS,
        signature=r"^bert/(embeddings|encoder)/",
        # BERT's names fit all but BERT's learned position table, which rotary attention
        # replaces: a BERT checkpoint would load into a RoFormer that means something else.
        foreign=((r"^bert/embeddings/position_embeddings$", "BERT, with learned positions"),),
        classes=(("RoFormerForMaskedLM", r"^cls/predictions/"), ("RoFormerModel", None)),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
        infer_config=_roformer_config,
        computed=((r"(^|\.)encoder\.embed_positions\.weight$", sinusoidal_table),),
    ),
)
