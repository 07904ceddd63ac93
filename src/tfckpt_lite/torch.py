"""PyTorch porting: `to_torch` and its building blocks (layout converters, rename rules).

    from tfckpt_lite.torch import to_torch, dense_to_linear, LAYERNORM_RULES

`to_torch` is also at the top level (``tfckpt_lite.to_torch``). torch is an optional extra
(``pip install tfckpt-lite[torch]``), imported only when `to_torch` runs: the layout
converters and rename rules work on NumPy arrays and names alone.
"""

from ._torch import (
    BATCHNORM_RULES,
    DEFAULT_EXCLUDE,
    LAYERNORM_RULES,
    conv1d_to_torch,
    conv2d_to_torch,
    conv3d_to_torch,
    dense_to_linear,
    depthwise_to_torch,
    rename_key,
    to_torch,
)

__all__ = [
    "BATCHNORM_RULES",
    "DEFAULT_EXCLUDE",
    "LAYERNORM_RULES",
    "conv1d_to_torch",
    "conv2d_to_torch",
    "conv3d_to_torch",
    "dense_to_linear",
    "depthwise_to_torch",
    "rename_key",
    "to_torch",
]
