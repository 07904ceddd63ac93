"""GPT-2: openai/gpt-2 releases (``models/<size>/model.ckpt``).

Release names (Conv1D weights ``[1, in, out]``, which transformers' Conv1D keeps as
``[in, out]``: the leading width-1 axis is dropped, nothing is transposed):

    model/wte [vocab, n_embd], model/wpe [n_ctx, n_embd]
    model/h<i>/ln_1/{g,b}, model/h<i>/ln_2/{g,b}
    model/h<i>/attn/c_attn/{w [1, E, 3E], b}, model/h<i>/attn/c_proj/{w, b}
    model/h<i>/mlp/c_fc/{w [1, E, 4E], b}, model/h<i>/mlp/c_proj/{w, b}
    model/ln_f/{g,b}
The LM head is the word embedding (tied), so GPT2LMHeadModel is complete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe
from .bert import heads_for, layer_count

Shape = tuple[int, ...]


def drop_width(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A width-1 Conv1D kernel ``[1, in, out]`` -> ``[in, out]`` (a view)."""
    return a[0] if a.ndim == 3 and a.shape[0] == 1 else a


GPT2_RULES: tuple[tuple[str, str | None], ...] = (
    (r"^model/", "transformer/"),
    (r"/h(\d+)/", r"/h/\1/"),
    (r"/(wte|wpe)$", r"/\1/weight"),
    (r"/(w|g)$", "/weight"),
    (r"/b$", "/bias"),
)


def _gpt2_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    vocab, embd = shapes["model/wte"]
    inner = shapes["model/h0/mlp/c_fc/w"][-1]
    return {
        "vocab_size": vocab,
        "n_embd": embd,
        "n_positions": shapes["model/wpe"][0],
        "n_layer": layer_count(shapes, r"^model/h(\d+)/"),
        "n_head": heads_for(embd),
        "n_inner": None if inner == 4 * embd else inner,
    }


RECIPES = (
    Recipe(
        model_types=("gpt2",),
        rename=GPT2_RULES,
        layouts=((r"/w$", drop_width),),
        signature=r"^model/(wte|wpe|h\d+/)",
        classes=(("GPT2LMHeadModel", None), ("GPT2Model", None)),
        fresh_heads=(r"^(score|classifier|qa_outputs|multiple_choice_head)\.",),
        infer_config=_gpt2_config,
    ),
)
