"""ELECTRA: google-research/electra releases. One checkpoint holds the discriminator and the
generator; the class picks which: ``ElectraForMaskedLM`` (with the generator's config) takes
the generator, every other class the discriminator.

Release names (BERT-style bodies, Dense kernels ``[in, out]``):

    electra/embeddings/{word,position,token_type}_embeddings, .../LayerNorm/{gamma,beta}
                                                   (shared by both networks)
    electra/embeddings_project/{kernel,bias}       discriminator, when embedding != hidden
    electra/encoder/layer_<i>/...                  discriminator body (BERT layer names)
    generator/embeddings_project/..., generator/encoder/layer_<i>/...   generator body
    discriminator_predictions/dense/{kernel,bias}, discriminator_predictions/dense_1/...
    generator_predictions/{dense,LayerNorm}/..., generator_predictions/output_bias
    global_step, generator_predictions/temperature, Adam slots: unused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import OPTIMIZER_SKIP, Recipe
from .bert import BERT_BODY_RULES, BERT_LAYOUTS, heads_for, layer_count

Shape = tuple[int, ...]

DISCRIMINATOR_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^discriminator_predictions/dense_1/", "discriminator_predictions/dense_prediction/"),
    *BERT_BODY_RULES,
)

GENERATOR_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^electra/(encoder|embeddings_project)/", None),  # the discriminator's
    (r"^discriminator_predictions/", None),
    (r"^generator/", "electra/"),
    (r"^generator_predictions/output_bias$", "generator_lm_head/bias"),
    *BERT_BODY_RULES,
)


def _electra_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, emb = shapes["electra/embeddings/word_embeddings"]
    hidden = shapes["electra/encoder/layer_0/attention/self/query/kernel"][1]
    return {
        "vocab_size": vocab,
        "embedding_size": emb,
        "hidden_size": hidden,
        "num_hidden_layers": layer_count(shapes, r"^electra/encoder/layer_(\d+)/"),
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes["electra/encoder/layer_0/intermediate/dense/kernel"][1],
        "max_position_embeddings": shapes["electra/embeddings/position_embeddings"][0],
        "type_vocab_size": shapes["electra/embeddings/token_type_embeddings"][0],
    }


RECIPES = (
    Recipe(
        model_types=("electra",),
        rename=DISCRIMINATOR_RULES,
        rename_by_class=((r"ForMaskedLM$", GENERATOR_RULES),),
        skip=(*OPTIMIZER_SKIP, r"/temperature$"),
        layouts=BERT_LAYOUTS,
        signature=r"^electra/(embeddings|encoder)/",
        classes=(
            ("ElectraForPreTraining", r"^discriminator_predictions/"),
            ("ElectraModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs|sequence_summary)\.",),
        infer_config=_electra_config,
    ),
)
