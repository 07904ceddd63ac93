"""ImageGPT: openai/image-gpt releases (``igpt-{s,m,l}/<step>/model.ckpt-<step>``).

Release names (``n_vocab`` = 512 color clusters; transformers adds the start token as row
512 of its embedding, so ``config.vocab_size`` = 513 and the LM head has 512 rows):

    model/wte [n_vocab, E], model/sos [E]   -> transformer.wte.weight (wte rows, then sos)
    model/wpe [n_ctx, E]
    model/wtet [n_vocab, E]                 -> lm_head.weight (untied)
    model/h<i>/ln_1/g, model/h<i>/ln_2/g    RMS norms: a gain, no bias
    model/h<i>/attn/{q,k,v}_proj [heads, E/heads, E]  -> one c_attn [E, 3E]: each is an
                                            [out, in] matrix once the head axes are merged
    model/h<i>/attn/c_proj [heads, E/heads, E]        -> c_proj [E, E] ([in, out] merged)
    model/h<i>/mlp/{c_fc,c_proj}/w [in, out] (Conv1D layout already; no bias)
    model/ln_f/g
    model/clf/wclf [classes, E]             linear-probe fine-tunes -> score.weight
    global_step

The release's projections have no biases; transformers' Conv1D layers do. They are zeros,
which is the release's model exactly (`Recipe.computed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import layer_count

Shape = tuple[int, ...]


def _merge_heads(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``[heads, E/heads, E]`` -> ``[E, E]`` (a view)."""
    return a.reshape(-1, a.shape[-1])


def _qkv(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A q/k/v projection ``[heads, E/heads, in]`` -> Conv1D's ``[in, out]`` (a view)."""
    return _merge_heads(a).T


def _row(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return a[None]


def _zeros(shape: Shape) -> np.ndarray[Any, Any]:
    return np.zeros(shape, np.float32)


IMAGEGPT_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^model/wtet$", "lm_head/weight"),
    (r"^model/wte$", "transformer/wte/weight#0/2@0"),
    (r"^model/sos$", "transformer/wte/weight#1/2@0"),
    (r"^model/clf/wclf$", "score/weight"),
    (r"^model/", "transformer/"),
    (r"/h(\d+)/", r"/h/\1/"),
    (r"/attn/q_proj$", "/attn/c_attn/weight#0/3@1"),
    (r"/attn/k_proj$", "/attn/c_attn/weight#1/3@1"),
    (r"/attn/v_proj$", "/attn/c_attn/weight#2/3@1"),
    (r"/attn/c_proj$", "/attn/c_proj/weight"),
    (r"/wpe$", "/wpe/weight"),
    (r"/(w|g)$", "/weight"),
)


NO_BIAS = r"(^|\.)h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.bias$"
"""transformers' Conv1D biases, which the release's projections do not have."""


def _imagegpt_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    clusters, embd = shapes["model/wte"]
    inner = shapes["model/h0/mlp/c_fc/w"][-1]
    out: dict[str, Any] = {
        "vocab_size": clusters + 1,
        "n_embd": embd,
        "n_positions": shapes["model/wpe"][0],
        "n_layer": layer_count(shapes, r"^model/h(\d+)/"),
        "n_head": shapes["model/h0/attn/q_proj"][0],
        "n_inner": None if inner == 4 * embd else inner,
    }
    if "model/clf/wclf" in shapes:
        out["num_labels"] = shapes["model/clf/wclf"][0]
    return out


RECIPES = (
    Recipe(
        model_types=("imagegpt",),
        rename=IMAGEGPT_RULES,
        layouts=(
            (r"/attn/[qkv]_proj$", _qkv),
            (r"/attn/c_proj$", _merge_heads),
            (r"^model/sos$", _row),
        ),
        signature=r"^model/(sos|wtet|h\d+/attn/[qkv]_proj)$",
        classes=(
            ("ImageGPTForImageClassification", r"^model/clf/wclf$"),
            ("ImageGPTForCausalImageModeling", r"^model/wtet$"),
            ("ImageGPTModel", None),
        ),
        fresh_heads=(r"^score\.",),
        infer_config=_imagegpt_config,
        computed=((NO_BIAS, _zeros),),
    ),
)
