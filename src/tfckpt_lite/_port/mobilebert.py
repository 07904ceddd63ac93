"""MobileBERT: google-research/mobilebert releases (``uncased_L-24_H-128_B-512_A-4_F-4_OPT``).

Release names (BERT-style scopes plus bottlenecks and stacked FFNs; ``FakeLayerNorm`` is the
element-wise affine that transformers calls ``NoNorm`` and names ``LayerNorm``):

    bert/embeddings/{word,position,token_type}_embeddings, bert/embeddings/embedding_transformation
    bert/embeddings/FakeLayerNorm/{gamma,beta}
    bert/encoder/layer_<i>/attention/self/{query,key,value}, attention/output/{dense,FakeLayerNorm}
    bert/encoder/layer_<i>/bottleneck/{input,attention}/{dense,FakeLayerNorm}
    bert/encoder/layer_<i>/ffn_layer_<j>/{intermediate/dense,output/dense,output/FakeLayerNorm}
    bert/encoder/layer_<i>/{intermediate/dense,output/dense,output/FakeLayerNorm}
    bert/encoder/layer_<i>/output/bottleneck/{dense,FakeLayerNorm}
    bert/pooler/dense, cls/predictions/transform/{dense,LayerNorm}, cls/predictions/output_bias
    cls/predictions/extra_output_weights [vocab, hidden - embedding]  (a Dense kernel)
    cls/seq_relationship/output_{weights,bias}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .bert import BERT_RULES, heads_for, layer_count

Shape = tuple[int, ...]

MOBILEBERT_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^bert/", "mobilebert/"),
    (r"/FakeLayerNorm/", "/LayerNorm/"),
    (r"/ffn_layer_(\d+)/", r"/ffn/\1/"),
    (r"^cls/predictions/extra_output_weights$", "cls/predictions/dense/weight"),
    *BERT_RULES,
)


def _mobilebert_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, emb = shapes["bert/embeddings/word_embeddings"]
    hidden = shapes["bert/embeddings/position_embeddings"][1]
    layer0 = "bert/encoder/layer_0/"
    true_hidden = shapes[layer0 + "attention/self/query/kernel"][1]
    return {
        "vocab_size": vocab,
        "embedding_size": emb,
        "hidden_size": hidden,
        "true_hidden_size": true_hidden,
        "intra_bottleneck_size": shapes[layer0 + "bottleneck/input/dense/kernel"][1],
        "intermediate_size": shapes[layer0 + "intermediate/dense/kernel"][1],
        "num_hidden_layers": layer_count(shapes, r"^bert/encoder/layer_(\d+)/"),
        "num_feedforward_networks": 1 + layer_count(shapes, r"/layer_0/ffn_layer_(\d+)/"),
        "num_attention_heads": heads_for(true_hidden),
        "max_position_embeddings": shapes["bert/embeddings/position_embeddings"][0],
        "type_vocab_size": shapes["bert/embeddings/token_type_embeddings"][0],
    }


RECIPES = (
    Recipe(
        model_types=("mobilebert",),
        rename=MOBILEBERT_RULES,
        layouts=((r"/(kernel|extra_output_weights)$", "dense"),),
        signature=r"^bert/encoder/layer_\d+/bottleneck/",
        classes=(
            ("MobileBertForPreTraining", r"^cls/seq_relationship/"),
            ("MobileBertForMaskedLM", r"^cls/predictions/transform/"),
            ("MobileBertForQuestionAnswering", r"^cls/squad/"),
            ("MobileBertForSequenceClassification", r"^output_weights$"),
            ("MobileBertModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
        infer_config=_mobilebert_config,
    ),
)
