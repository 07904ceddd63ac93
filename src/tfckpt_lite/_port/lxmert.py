"""LXMERT: TF1 checkpoints in the names transformers 4.x's ``load_tf_weights_in_lxmert``
took. That loader is BERT's attribute walker, so the names are the PyTorch module paths of
``LxmertForPreTraining`` in BERT's TF1 conventions (Dense kernels ``[in, out]``, LayerNorm
``gamma``/``beta``, embeddings without ``/weight``):

    lxmert/embeddings/{word,position,token_type}_embeddings, lxmert/embeddings/LayerNorm
    lxmert/encoder/visn_fc/{visn_fc,visn_layer_norm,box_fc,box_layer_norm}
    lxmert/encoder/layer_<i>/...                       language layers (BERT's layer names)
    lxmert/encoder/x_layers/<i>/{visual_attention,lang_self_att,lang_inter,lang_output,
                                 visn_self_att,visn_inter,visn_output}/...   cross-modal
    lxmert/encoder/r_layers/<i>/...                    object-relationship layers
    lxmert/pooler/dense
    cls/predictions/{transform/...,output_bias}, cls/seq_relationship/{kernel,bias}
    obj_predict_head/{transform/...,decoder_dict/{obj,attr,feat}}
    answer_head/logit_fc/{0,2,3}/...                   (Linear, LayerNorm, Linear)

The walker split an index only off ``<letters>_<i>``; any other list (``x_layers``,
``r_layers``, ``logit_fc``) it read as ``<list>/<i>``. Both spellings are accepted for all
of them. LXMERT's own release (airsplay/lxmert) is a PyTorch file, not a TF checkpoint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .bert import BERT_LAYOUTS, BERT_RULES, heads_for

Shape = tuple[int, ...]

_LISTS = r"(layer|x_layers|r_layers|logit_fc)"


def _count(shapes: Mapping[str, Shape], lst: str) -> int:
    rx = re.compile(rf"^lxmert/encoder/{lst}[_/](\d+)/")
    found = [int(m[1]) for k in shapes if (m := rx.search(k))]
    return 1 + max(found) if found else 0


def _first(shapes: Mapping[str, Shape], pattern: str) -> Shape | None:
    rx = re.compile(pattern)
    return next((s for k, s in shapes.items() if rx.search(k)), None)


def _lxmert_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, hidden = shapes["lxmert/embeddings/word_embeddings"]
    out: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_attention_heads": heads_for(hidden),
        "intermediate_size": shapes["lxmert/encoder/layer_0/intermediate/dense/kernel"][1],
        "max_position_embeddings": shapes["lxmert/embeddings/position_embeddings"][0],
        "type_vocab_size": shapes["lxmert/embeddings/token_type_embeddings"][0],
        "l_layers": _count(shapes, "layer"),
        "x_layers": _count(shapes, "x_layers"),
        "r_layers": _count(shapes, "r_layers"),
        "visual_feat_dim": shapes["lxmert/encoder/visn_fc/visn_fc/kernel"][0],
        "visual_pos_dim": shapes["lxmert/encoder/visn_fc/box_fc/kernel"][0],
    }
    qa = _first(shapes, r"^answer_head/logit_fc[_/]3/kernel$")
    if qa is not None:
        out["num_qa_labels"] = qa[1]
    for head, field in (("obj", "num_object_labels"), ("attr", "num_attr_labels")):
        found = _first(shapes, rf"^obj_predict_head/decoder_dict/{head}/kernel$")
        if found is not None:
            out[field] = found[1]
    return out


RECIPES = (
    Recipe(
        model_types=("lxmert",),
        rename=((rf"/{_LISTS}_(\d+)/", r"/\1/\2/"), *BERT_RULES),
        layouts=BERT_LAYOUTS,
        signature=r"^lxmert/encoder/visn_fc/",
        classes=(
            ("LxmertForPreTraining", r"^(cls|obj_predict_head)/"),
            ("LxmertForQuestionAnswering", r"^answer_head/"),
            ("LxmertModel", None),
        ),
        infer_config=_lxmert_config,
    ),
)
