"""Layouts of per-head attention projections (Keras ``EinsumDense`` / BigBird / Funnel /
Model Garden): 3-D kernels and 2-D biases into ``nn.Linear`` weights and biases. Views of
the checkpoint's array wherever its memory order allows."""

from __future__ import annotations

from typing import Any

import numpy as np

Arr = np.ndarray[Any, Any]


def qkv_kernel(a: Arr) -> Arr:
    """``[H, heads, head_size]`` (or ``[H, out]``) -> Linear ``[heads * head_size, H]``."""
    return a.reshape(a.shape[0], -1).T


def out_kernel(a: Arr) -> Arr:
    """``[heads, head_size, H]`` (or ``[in, H]``) -> Linear ``[H, heads * head_size]``."""
    return a.reshape(-1, a.shape[-1]).T


def flat(a: Arr) -> Arr:
    """A per-head bias ``[heads, head_size]`` -> ``[heads * head_size]``."""
    return a.reshape(-1)
