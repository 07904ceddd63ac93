"""ALBERT: google-research/albert releases (``model.ckpt-best``, and TF Hub modules whose
variables start with ``module/``).

Release names (BERT-style, with factorized embeddings and shared layers):

    bert/embeddings/{word,position,token_type}_embeddings   [V|P|T, E]
    bert/embeddings/LayerNorm/{gamma,beta}
    bert/encoder/embedding_hidden_mapping_in/{kernel [E, H],bias}
    bert/encoder/transformer/group_<g>/inner_group_<i>/attention_1/self/{query,key,value}/{kernel,bias}
    bert/encoder/transformer/group_<g>/inner_group_<i>/attention_1/output/dense/{kernel,bias}
    bert/encoder/transformer/group_<g>/inner_group_<i>/LayerNorm/{gamma,beta}     (attention)
    bert/encoder/transformer/group_<g>/inner_group_<i>/ffn_1/intermediate/dense/{kernel,bias}
    bert/encoder/transformer/group_<g>/inner_group_<i>/ffn_1/intermediate/output/dense/...
    bert/encoder/transformer/group_<g>/inner_group_<i>/LayerNorm_1/{gamma,beta}   (after FFN)
    bert/pooler/dense/{kernel,bias}
    cls/predictions/transform/{dense,LayerNorm}/..., cls/predictions/output_bias
    cls/seq_relationship/output_{weights,bias}   (sentence-order prediction head)
    fine-tunes: output_{weights,bias}; LAMB/Adam slots adam_m/adam_v, global_step: unused.

The number of layers is not in the checkpoint (they share weights): take it from the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .bert import BERT_BODY_RULES, BERT_LAYOUTS, heads_for, layer_count

Shape = tuple[int, ...]

_LAYER = "albert/encoder/albert_layer_groups/\\1/albert_layers/\\2/"

ALBERT_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^module/", ""),
    (r"^bert/", "albert/"),
    (r"^albert/encoder/transformer/group_(\d+)/inner_group_(\d+)/", _LAYER),
    (r"/attention_1/(self|output)/", "/attention/"),
    (r"/(albert_layers/\d+)/LayerNorm/", r"/\1/attention/LayerNorm/"),
    (r"/LayerNorm_1/", "/full_layer_layer_norm/"),
    (r"/ffn_1/intermediate/output/dense/", "/ffn_output/"),
    (r"/ffn_1/intermediate/dense/", "/ffn/"),
    (r"^albert/pooler/dense/", "albert/pooler/"),
    (r"^cls/predictions/transform/", "predictions/"),
    (r"^cls/predictions/output_bias$", "predictions/bias"),
    (r"^cls/seq_relationship/output_(weight|bias)s?$", r"sop_classifier/classifier/\1"),
    (r"^output_(weight|bias)s?$", r"classifier/\1"),
    *BERT_BODY_RULES,
)


def _albert_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    shapes = {k.removeprefix("module/"): v for k, v in shapes.items()}
    vocab, emb = shapes["bert/embeddings/word_embeddings"]
    hidden = shapes["bert/encoder/embedding_hidden_mapping_in/kernel"][1]
    layer0 = "bert/encoder/transformer/group_0/inner_group_0/"
    out: dict[str, Any] = {
        "vocab_size": vocab,
        "embedding_size": emb,
        "hidden_size": hidden,
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes[layer0 + "ffn_1/intermediate/dense/kernel"][1],
        "max_position_embeddings": shapes["bert/embeddings/position_embeddings"][0],
        "type_vocab_size": shapes["bert/embeddings/token_type_embeddings"][0],
        "num_hidden_groups": layer_count(shapes, r"/transformer/group_(\d+)/"),
        "inner_group_num": layer_count(shapes, r"/inner_group_(\d+)/"),
    }
    if "output_weights" in shapes:
        out["num_labels"] = shapes["output_weights"][0]
    return out


RECIPES = (
    Recipe(
        model_types=("albert",),
        rename=ALBERT_RULES,
        layouts=BERT_LAYOUTS,
        signature=r"^(module/)?bert/(embeddings|encoder)/",
        classes=(
            ("AlbertForPreTraining", r"^(module/)?cls/seq_relationship/"),
            ("AlbertForMaskedLM", r"^(module/)?cls/predictions/transform/"),
            ("AlbertForSequenceClassification", r"^output_weights$"),
            ("AlbertModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
        infer_config=_albert_config,
    ),
)
