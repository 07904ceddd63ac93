"""Funnel Transformer: laiguokun/funnel-transformer TF releases (``model.ckpt``).

Release names (layers numbered through the whole model: encoder ``layer_0`` ..
``layer_<N-1>`` over all blocks, then the decoder's ``layer_<N>`` ..):

    model/input/word_embedding/lookup_table [V, d], model/input/layer_norm/{gamma,beta}
    model/{encoder,decoder}/layer_<i>/rel_attn/{q,k,v}/kernel [d, heads, head] (+ k, v bias)
    model/{encoder,decoder}/layer_<i>/rel_attn/o/{kernel [heads, head, d],bias}
    model/{encoder,decoder}/layer_<i>/rel_attn/r/kernel, .../{r_w_bias,r_r_bias,r_s_bias,seg_embed}
    model/{encoder,decoder}/layer_<i>/rel_attn/layer_norm, .../ff/{layer_1,layer_2,layer_norm}
    generator/...: the ELECTRA-style generator, not part of these classes (unused).

Which block a layer belongs to depends on the config's ``block_sizes``: the names are bound
to the model's own blocks in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ._engine import Recipe
from ._layouts import flat, out_kernel, qkv_kernel

_LAYER = re.compile(r"^model/(encoder|decoder)/layer_(\d+)/(.+)$")
_BLOCK = re.compile(r"(?:^|\.)encoder\.blocks\.(\d+)\.(\d+)\.")
_LEAF = (
    (r"^rel_attn/([qkv])/(kernel|bias)$", r"attention/\1_head/\2"),
    (r"^rel_attn/o/(kernel|bias)$", r"attention/post_proj/\1"),
    (r"^rel_attn/r/kernel$", "attention/r_kernel"),
    (
        r"^rel_attn/(r_w_bias|r_r_bias|r_s_bias|seg_embed|layer_norm/gamma|layer_norm/beta)$",
        r"attention/\1",
    ),
    (r"^ff/layer_(\d)/", r"ffn/linear_\1/"),
    (r"^ff/layer_norm/", "ffn/layer_norm/"),
    (r"/(kernel|gamma)$", "/weight"),
    (r"/beta$", "/bias"),
)


def bind_funnel(state: Sequence[str]) -> Callable[[str], str | None]:
    """The rename function for a model whose encoder has the blocks named in `state`."""
    blocks = sorted({(int(m[1]), int(m[2])) for k in state if (m := _BLOCK.search(k))})
    encoder = [f"encoder/blocks/{b}/{j}" for b, j in blocks]

    def rename(key: str) -> str | None:
        if key == "model/input/word_embedding/lookup_table":
            return "funnel/embeddings/word_embeddings/weight"
        m = re.match(r"^model/input/layer_norm/(gamma|beta)$", key)
        if m:
            return f"funnel/embeddings/layer_norm/{'weight' if m[1] == 'gamma' else 'bias'}"
        m = _LAYER.match(key)
        if m is None:
            return None
        index = int(m[2])
        if m[1] == "encoder":
            if index >= len(encoder):
                return None
            prefix = encoder[index]
        else:
            prefix = f"decoder/layers/{index - len(encoder)}"
        leaf = m[3]
        for pattern, repl in _LEAF:
            leaf = re.sub(pattern, repl, leaf)
        return f"funnel/{prefix}/{leaf}"

    return rename


RECIPES = (
    Recipe(
        model_types=("funnel",),
        rename=(),
        bind=bind_funnel,
        layouts=(
            (r"/rel_attn/[qkv]/kernel$", qkv_kernel),
            (r"/rel_attn/o/kernel$", out_kernel),
            (r"/rel_attn/[kv]/bias$", flat),
            (r"/ff/layer_\d/kernel$", "dense"),
        ),
        signature=r"^model/(input/word_embedding|encoder/layer_\d+/rel_attn)/",
        classes=(("FunnelModel", r"^model/decoder/"), ("FunnelBaseModel", None)),
        fresh_heads=(r"^(classifier|qa_outputs|lm_head|discriminator_predictions)\.",),
    ),
)
