"""TAPAS: google-research/tapas releases (``tapas_<size>/model.ckpt``, and the SQA, WTQ,
WikiSQL, TabFact fine-tunes).

Release names: BERT's body (``bert/...`` -> ``tapas.``), seven token-type embeddings
``bert/embeddings/token_type_embeddings_<0..6>``, and top-level heads:

    output_weights [H], output_bias []                   cell selection
    column_output_weights [H], column_output_bias []     column selection
    output_weights_agg [labels, H], output_bias_agg      aggregation (WTQ, WikiSQL)
    output_weights_cls [labels, H], output_bias_cls      classification (TabFact)
    cls/predictions/... (the MLM pretraining checkpoint); cls/seq_relationship: unused.
"""

from __future__ import annotations

from ._engine import Recipe
from .bert import BERT_BODY_RULES, BERT_LAYOUTS

TAPAS_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^cls/seq_relationship/", None),
    (r"^bert/", "tapas/"),
    (r"^output_weights_agg$", "aggregation_classifier/weight"),
    (r"^output_bias_agg$", "aggregation_classifier/bias"),
    (r"^output_weights_cls$", "classifier/weight"),
    (r"^output_bias_cls$", "classifier/bias"),
    (r"^cls/predictions/output_bias$", "cls/predictions/bias"),
    (r"_embeddings_(\d)$", r"_embeddings_\1/weight"),
    *BERT_BODY_RULES,
)

RECIPES = (
    Recipe(
        model_types=("tapas",),
        rename=TAPAS_RULES,
        layouts=BERT_LAYOUTS,
        signature=r"^bert/embeddings/token_type_embeddings_\d$",
        classes=(
            ("TapasForQuestionAnswering", r"^column_output_weights$"),
            ("TapasForSequenceClassification", r"^output_weights_cls$"),
            ("TapasForMaskedLM", r"^cls/predictions/transform/"),
            ("TapasModel", None),
        ),
        fresh_heads=(r"^classifier\.",),
    ),
)
