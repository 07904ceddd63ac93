"""GPT-Neo: EleutherAI's mesh-tensorflow releases (``GPT3_XL``, ``GPT3_2-7B``, ...).

Release names (mesh-tf: Dense ``[in, out]``; float32 or bfloat16, cast to the model's dtype):

    gpt2/wte [padded vocab, E] (rows beyond config.vocab_size are mesh padding: dropped)
    gpt2/wpe [n_ctx, E], gpt2/ln_f/{g,b}
    gpt2/h<i>/norm_1/{g,b}, gpt2/h<i>/norm_2/{g,b}
    gpt2/h<i>/attn/{q,k,v,o} [E, E], gpt2/h<i>/attn/compute_output_bias/o_b [E]
    gpt2/h<i>/mlp/conv1d_main/{c_fc,c_proj}/{kernel,bias}
    .../adam_m, .../adam_v, global_step: unused. The LM head is tied to ``wte``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import OPTIMIZER_SKIP, Recipe
from .bert import heads_for, layer_count

Shape = tuple[int, ...]

GPT_NEO_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^gpt2/", "transformer/"),
    (r"/h(\d+)/", r"/h/\1/"),
    (r"/attn/(q|k|v)$", r"/attn/attention/\1_proj/weight"),
    (r"/attn/o$", "/attn/attention/out_proj/weight"),
    (r"/attn/compute_output_bias/o_b$", "/attn/attention/out_proj/bias"),
    (r"/norm_(1|2)/", r"/ln_\1/"),
    (r"/mlp/conv1d_main/(c_fc|c_proj)/kernel$", r"/mlp/\1/weight"),
    (r"/mlp/conv1d_main/(c_fc|c_proj)/bias$", r"/mlp/\1/bias"),
    (r"/(wte|wpe)$", r"/\1/weight"),
    (r"/g$", "/weight"),
    (r"/b$", "/bias"),
)


def _squeeze_t(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.squeeze(a).T


def _gpt_neo_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    hidden = shapes["gpt2/wte"][1]
    layers = layer_count(shapes, r"^gpt2/h(\d+)/")
    return {
        "vocab_size": shapes["gpt2/wte"][0],
        "hidden_size": hidden,
        "max_position_embeddings": shapes["gpt2/wpe"][0],
        "num_layers": layers,
        "num_heads": heads_for(hidden),
        "intermediate_size": shapes["gpt2/h0/mlp/conv1d_main/c_fc/kernel"][1],
        # Which layers are local is not in the checkpoint; this only shapes the model.
        "attention_types": [[["global"], layers]],
    }


RECIPES = (
    Recipe(
        model_types=("gpt_neo",),
        rename=GPT_NEO_RULES,
        layouts=(
            (r"/attn/[qkvo]$", _squeeze_t),
            (r"/conv1d_main/c_(fc|proj)/kernel$", _squeeze_t),
            (r".", np.squeeze),
        ),
        skip=(*OPTIMIZER_SKIP, r"adam"),
        signature=r"^gpt2/h\d+/(attn/[qkvo]$|mlp/conv1d_main/)",
        classes=(("GPTNeoForCausalLM", None), ("GPTNeoModel", None)),
        fresh_heads=(r"^(score|qa_outputs|classifier)\.",),
        trim_rows=(r"(^|\.)wte\.weight$",),
        infer_config=_gpt_neo_config,
    ),
)
