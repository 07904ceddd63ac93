"""TAPAS: google-research/tapas WTQ-style fine-tune (cell, column and aggregation heads) and
a TabFact-style classifier."""

from __future__ import annotations

from typing import Any

from . import Case, Var
from .bert import bert_variables

TAPAS = {
    "vocab_size": 70, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 40, "max_position_embeddings": 24, "type_vocab_size": 2,
    "type_vocab_sizes": [3, 8, 8, 2, 8, 8, 10], "num_aggregation_labels": 4,
}  # fmt: skip


def tapas_variables(cfg: dict[str, Any], heads: str) -> list[Var]:
    body = bert_variables(cfg, heads=False, adam=True)
    h = cfg["hidden_size"]
    out = [v for v in body if "token_type_embeddings" not in v[0]]
    out += [(f"bert/embeddings/token_type_embeddings_{i}", (n, h), "float32")
            for i, n in enumerate(cfg["type_vocab_sizes"])]  # fmt: skip
    if heads == "wtq":
        out += [("output_weights", (h,), "float32"), ("output_bias", (), "float32"),
                ("column_output_weights", (h,), "float32"), ("column_output_bias", (), "float32"),
                ("output_weights_agg", (cfg["num_aggregation_labels"], h), "float32"),
                ("output_bias_agg", (cfg["num_aggregation_labels"],), "float32")]  # fmt: skip
    else:
        out += [("output_weights_cls", (2, h), "float32"), ("output_bias_cls", (2,), "float32")]
    return out


LOADER = "transformers.models.tapas.modeling_tapas:load_tf_weights_in_tapas"

CASES = {
    "tapas_wtq": Case(
        model_type="tapas",
        config=TAPAS,
        oracle_class="TapasForQuestionAnswering",
        loader=LOADER,
        variables=tapas_variables(TAPAS, "wtq"),
    ),
    "tapas_tabfact": Case(
        model_type="tapas",
        config={**TAPAS, "num_labels": 2},
        oracle_class="TapasForSequenceClassification",
        loader=LOADER,
        variables=tapas_variables(TAPAS, "tabfact"),
    ),
}
