"""TF Model Garden BERT: TF2 object-based checkpoints of ``official.nlp.modeling.networks``
encoders (``tf.train.Checkpoint(encoder=...)`` or ``(model=...)``), the layout of Model
Garden's TF2 BERT releases. Used by the ``bert`` recipe when a checkpoint is object-based.

Keys (``<root>/`` is ``encoder/`` or ``model/``; each ends in ``/.ATTRIBUTES/VARIABLE_VALUE``):

    BertEncoder (Keras functional; layers numbered in creation order):
        layer_with_weights-0/embeddings   word [V, H]      -1/embeddings position [P, H]
        layer_with_weights-2/embeddings   type [T, H]      -3/{gamma,beta} embedding norm
        layer_with_weights-<4+i>/...      transformer layer i
        layer_with_weights-<4+L>/{kernel,bias}            pooler
    BertEncoderV2 (subclassed):
        _embedding_layer, _position_embedding_layer, _type_embedding_layer: embeddings;
        _embedding_norm_layer; _transformer_layers/<i>/...; _pooler_layer/{kernel,bias}
    a transformer layer:
        _attention_layer/_{query,key,value}_dense/kernel [H, heads, head], bias [heads, head]
        _attention_layer/_output_dense/kernel [heads, head, H] (older: _attention_output_dense)
        _attention_layer_norm, _intermediate_dense, _output_dense, _output_layer_norm
    save_counter, _CHECKPOINTABLE_OBJECT_GRAPH, optimizer slots: unused

Not covered: encoders with an embedding projection (``embedding_width`` != hidden size adds
a layer and shifts BertEncoder's numbering) and pre-training heads (``BertPretrainerV2``'s
``masked_lm``, ``classification_heads``): their tensors are reported, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._naming import VARIABLE_VALUE_SUFFIX
from ._engine import Recipe
from ._layouts import flat, out_kernel, qkv_kernel

Shape = tuple[int, ...]

_SUFFIX = re.escape(VARIABLE_VALUE_SUFFIX) + "$"
_EMBEDDINGS = {
    "layer_with_weights-0": "word_embeddings",
    "layer_with_weights-1": "position_embeddings",
    "layer_with_weights-2": "token_type_embeddings",
    "_embedding_layer": "word_embeddings",
    "_position_embedding_layer": "position_embeddings",
    "_type_embedding_layer": "token_type_embeddings",
}
_SUBLAYERS = (
    (r"_attention_layer/_(query|key|value)_dense", r"attention/self/\1"),
    (r"_attention_layer/_output_dense|_attention_output_dense", "attention/output/dense"),
    (r"_attention_layer_norm", "attention/output/LayerNorm"),
    (r"_intermediate_dense", "intermediate/dense"),
    (r"_output_dense", "output/dense"),
    (r"_output_layer_norm", "output/LayerNorm"),
)
_LEAF = {"kernel": "weight", "gamma": "weight", "bias": "bias", "beta": "bias"}
_TF2_KEY = re.compile(r"^[^/]+/(?P<path>.+)/(?P<leaf>embeddings|kernel|bias|gamma|beta)" + _SUFFIX)
_LAYER = re.compile(
    r"^(?:layer_with_weights-(?P<n>\d+)|_transformer_layers/(?P<i>\d+))/(?P<sub>.+)$"
)


def model_garden_name(key: str) -> str | None:
    """The BertModel name (``/``-separated, under ``bert/``) of a Model Garden key."""
    m = _TF2_KEY.match(key)
    if m is None:
        return None
    path, leaf = m["path"], m["leaf"]
    if leaf == "embeddings":
        table = _EMBEDDINGS.get(path)
        return None if table is None else f"bert/embeddings/{table}/weight"
    if path in ("layer_with_weights-3", "_embedding_norm_layer"):
        return f"bert/embeddings/LayerNorm/{_LEAF[leaf]}"
    if path == "_pooler_layer" or (
        path.startswith("layer_with_weights-") and leaf in ("kernel", "bias") and "/" not in path
    ):
        return f"bert/pooler/dense/{_LEAF[leaf]}"
    layer = _LAYER.match(path)
    if layer is None:
        return None
    index = int(layer["i"]) if layer["i"] is not None else int(layer["n"]) - 4
    for pattern, target in _SUBLAYERS:
        if re.fullmatch(pattern, layer["sub"]):
            sub = re.sub(pattern, target, layer["sub"])
            return f"bert/encoder/layer/{index}/{sub}/{_LEAF[leaf]}"
    return None


def _config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    named = {model_garden_name(k): s for k, s in shapes.items()}
    vocab, hidden = named["bert/embeddings/word_embeddings/weight"]
    layers = {n.split("/")[3] for n in named if n and n.startswith("bert/encoder/layer/")}
    # Unlike TF1 BERT, the head count is in the checkpoint: q/k/v kernels are [H, heads, head].
    query = next(s for k, s in shapes.items() if re.search(r"/_query_dense/kernel" + _SUFFIX, k))
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "num_hidden_layers": len(layers),
        "num_attention_heads": query[1],
        "intermediate_size": named["bert/encoder/layer/0/intermediate/dense/weight"][1],
        "max_position_embeddings": named["bert/embeddings/position_embeddings/weight"][0],
        "type_vocab_size": named["bert/embeddings/token_type_embeddings/weight"][0],
    }


MODEL_GARDEN_BERT = Recipe(
    model_types=("bert",),
    rename=model_garden_name,
    layouts=(
        (r"/_(query|key|value)_dense/kernel" + _SUFFIX, qkv_kernel),
        (r"/_(query|key|value)_dense/bias" + _SUFFIX, flat),
        (
            r"/(_attention_layer/_output_dense|_attention_output_dense)/kernel" + _SUFFIX,
            out_kernel,
        ),
        (r"/kernel" + _SUFFIX, "dense"),
    ),
    signature=r"/_attention_layer/_query_dense/kernel" + _SUFFIX,
    classes=(("BertModel", None),),
    fresh_heads=(r"^(classifier|qa_outputs)\.",),
    infer_config=_config,
    object_based=True,
)
"""Model Garden's BERT encoder into `BertModel` (the heads of other classes are reported)."""
