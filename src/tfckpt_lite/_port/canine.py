"""CANINE: google-research/language ``language/canine`` releases (CANINE-S, CANINE-C) and
their TyDi QA fine-tunes.

Release names (TF1 variables at the top level, no model scope; BERT's conventions inside:
``layer_<i>``, Dense ``kernel`` ``[in, out]``, slim LayerNorm ``gamma``/``beta``):

    char_embeddings/embeddings/HashBucketCodepointEmbedder_<k>       [buckets, H / hashes]
    char_embeddings/{segment_embeddings [16, H], char_position_embeddings [P, H]}
    char_embeddings/LayerNorm/{gamma,beta}
    initial_char_encoder/layer_0/...                                   (local attention)
    initial_char_encoder/initial_char_encoder/chars_to_molecules/conv/{kernel,bias}
        (the scope is opened twice; Conv1D kernel [rate, H, H]), .../LayerNorm
    bert/layer_<i>/...                                                 (the deep stack)
    final_char_encoder/conv/{kernel,bias}   [upsampling_kernel_size, 2H, H], .../LayerNorm
    final_char_encoder/layer_0/...
    pooler/dense/{kernel,bias}
    TyDi QA (run_tydi): cls/tydi/output_{weights [2, H],bias}, answer_type_output_{weights,bias}
    pre-training heads (cls/..., autoregressive_decoder/..., char_output_weights): unused
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .bert import BERT_BODY_RULES, heads_for, layer_count

Shape = tuple[int, ...]

_HASH = "char_embeddings/embeddings/HashBucketCodepointEmbedder_"
_C2M = "initial_char_encoder/initial_char_encoder/chars_to_molecules/"

CANINE_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^cls/tydi/output_weights$", "qa_outputs/weight"),
    (r"^cls/tydi/output_bias$", "qa_outputs/bias"),
    (r"^(cls|autoregressive_decoder)/|^char_output_weights", None),
    (r"^char_embeddings/embeddings/(HashBucketCodepointEmbedder_\d+)$",
     r"canine/char_embeddings/\1/weight"),
    (r"^char_embeddings/segment_embeddings$", "canine/char_embeddings/token_type_embeddings"),
    ("^" + _C2M, "canine/chars_to_molecules/"),
    (r"^final_char_encoder/(conv|LayerNorm)/", r"canine/projection/\1/"),
    (r"^bert/", "canine/encoder/"),
    (r"^(char_embeddings|initial_char_encoder|final_char_encoder|pooler)/", r"canine/\1/"),
    *BERT_BODY_RULES,
)  # fmt: skip


def _canine_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    buckets, shard = shapes[_HASH + "0"]
    hashes = sum(1 for k in shapes if k.startswith(_HASH) and k[len(_HASH) :].isdigit())
    hidden = shard * hashes
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layer_count(shapes, r"^bert/layer_(\d+)/"),
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes["bert/layer_0/intermediate/dense/kernel"][1],
        "num_hash_functions": hashes,
        "num_hash_buckets": buckets,
        "max_position_embeddings": shapes["char_embeddings/char_position_embeddings"][0],
        "type_vocab_size": shapes["char_embeddings/segment_embeddings"][0],
        "downsampling_rate": shapes[_C2M + "conv/kernel"][0],
        "upsampling_kernel_size": shapes["final_char_encoder/conv/kernel"][0],
    }


RECIPES = (
    Recipe(
        model_types=("canine",),
        rename=CANINE_RULES,
        layouts=((r"/conv/kernel$", "conv1d"), (r"/kernel$", "dense")),
        signature=r"^char_embeddings/embeddings/HashBucketCodepointEmbedder_\d+$",
        classes=(
            ("CanineForQuestionAnswering", r"^cls/tydi/output_weights$"),
            ("CanineModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
        infer_config=_canine_config,
    ),
)
