"""BERT's relatives whose transformers 4.x loader was BERT's attribute walker: the TF names
are the PyTorch module paths under the release's scope, in BERT's conventions (``layer_<i>``,
Dense ``kernel`` ``[in, out]``, LayerNorm ``gamma``/``beta``, ``*_embeddings`` tables,
``cls/predictions/output_bias``).

    rembert:        bert/embeddings/..., bert/encoder/embedding_hidden_mapping_in,
                    bert/encoder/layer_<i>/..., cls/predictions/{dense,LayerNorm,decoder}
    megatron_bert:  bert/embeddings/..., bert/encoder/layer_<i>/{attention/ln,ln,...},
                    bert/encoder/ln, bert/pooler, cls/...
    roc_bert:       roc_bert/embeddings/{word_embeddings,pronunciation_embed,shape_embed,...},
                    roc_bert/encoder/layer_<i>/..., roc_bert/pooler, cls/...
"""

from __future__ import annotations

from ._engine import Recipe
from .bert import BERT_LAYOUTS, BERT_RULES

RECIPES = (
    Recipe(
        model_types=("rembert",),
        rename=((r"^bert/", "rembert/"), *BERT_RULES),
        layouts=BERT_LAYOUTS,
        signature=r"^bert/encoder/embedding_hidden_mapping_in/",
        classes=(("RemBertForMaskedLM", r"^cls/predictions/"), ("RemBertModel", None)),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
    ),
    Recipe(
        model_types=("megatron-bert",),
        rename=BERT_RULES,
        layouts=BERT_LAYOUTS,
        signature=r"^bert/encoder/(ln/|layer_\d+/(ln|attention/ln)/)",
        classes=(
            ("MegatronBertForPreTraining", r"^cls/seq_relationship/"),
            ("MegatronBertForMaskedLM", r"^cls/predictions/"),
            ("MegatronBertModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
    ),
    Recipe(
        model_types=("roc_bert",),
        rename=BERT_RULES,
        layouts=BERT_LAYOUTS,
        signature=r"^roc_bert/(embeddings|encoder)/",
        classes=(
            ("RoCBertForPreTraining", r"^cls/"),
            ("RoCBertModel", None),
        ),
        fresh_heads=(r"^(classifier|qa_outputs)\.",),
    ),
)
