"""BERT: google-research/bert releases (``bert_model.ckpt``) and their fine-tuned descendants.

Release names (TF1 ``tf.compat.v1`` variables, Dense kernels ``[in, out]``):

    bert/embeddings/{word,position,token_type}_embeddings        [V|P|T, H]
    bert/embeddings/LayerNorm/{gamma,beta}
    bert/encoder/layer_<i>/attention/self/{query,key,value}/{kernel,bias}
    bert/encoder/layer_<i>/attention/output/{dense/{kernel,bias},LayerNorm/{gamma,beta}}
    bert/encoder/layer_<i>/intermediate/dense/{kernel,bias}
    bert/encoder/layer_<i>/output/{dense/{kernel,bias},LayerNorm/{gamma,beta}}
    bert/pooler/dense/{kernel,bias}
    cls/predictions/transform/{dense/{kernel,bias},LayerNorm/{gamma,beta}}
    cls/predictions/output_bias                                  [V]  (decoder = embeddings)
    cls/seq_relationship/output_weights, output_bias             [2, H] (already [out, in])
    run_classifier.py:  output_weights [labels, H], output_bias
    run_squad.py:       cls/squad/output_weights [2, H], cls/squad/output_bias
    optimizer/counters: .../adam_m, .../adam_v, global_step
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .model_garden import MODEL_GARDEN_BERT

Shape = tuple[int, ...]

BERT_LAYOUTS = ((r"/kernel$", "dense"),)

BERT_BODY_RULES: tuple[tuple[str, str | None], ...] = (
    (r"/layer_(\d+)/", r"/layer/\1/"),
    (r"_embeddings$", "_embeddings/weight"),
    (r"/(kernel|gamma)$", "/weight"),
    (r"/beta$", "/bias"),
)
"""The TF1 BERT body naming shared by BERT-like families (layer_<i>, embeddings, Dense,
LayerNorm)."""

BERT_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^cls/squad/output_weights$", "qa_outputs/weight"),
    (r"^cls/squad/output_bias$", "qa_outputs/bias"),
    (r"^output_weights$", "classifier/weight"),
    (r"^output_bias$", "classifier/bias"),
    (r"^cls/predictions/output_bias$", "cls/predictions/bias"),
    (r"^cls/seq_relationship/output_(weight|bias)s?$", r"cls/seq_relationship/\1"),
    *BERT_BODY_RULES,
)


def layer_count(shapes: Mapping[str, Shape], pattern: str) -> int:
    """1 + the largest ``<i>`` captured by `pattern` in any key (0 when none)."""
    import re

    rx = re.compile(pattern)
    found = [int(m[1]) for k in shapes if (m := rx.search(k))]
    return 1 + max(found) if found else 0


def heads_for(hidden: int) -> int:
    """A head count that divides `hidden` (64-wide heads where possible): the checkpoint
    cannot tell, and it shapes no weight; a config.json gives the real one."""
    return hidden // 64 if hidden % 64 == 0 and hidden >= 64 else 1


def _bert_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, hidden = shapes["bert/embeddings/word_embeddings"]
    out: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": layer_count(shapes, r"^bert/encoder/layer_(\d+)/"),
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes["bert/encoder/layer_0/intermediate/dense/kernel"][1],
        "max_position_embeddings": shapes["bert/embeddings/position_embeddings"][0],
        "type_vocab_size": shapes["bert/embeddings/token_type_embeddings"][0],
    }
    if "output_weights" in shapes:
        out["num_labels"] = shapes["output_weights"][0]
    return out


RECIPES = (
    Recipe(
        model_types=("bert",),
        rename=BERT_RULES,
        layouts=BERT_LAYOUTS,
        signature=r"^bert/(embeddings|encoder)/",
        classes=(
            ("BertForPreTraining", r"^cls/seq_relationship/"),
            ("BertForMaskedLM", r"^cls/predictions/"),
            ("BertForQuestionAnswering", r"^cls/squad/"),
            ("BertForSequenceClassification", r"^output_weights$"),
            ("BertModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
        infer_config=_bert_config,
        tf2=MODEL_GARDEN_BERT,
    ),
)
