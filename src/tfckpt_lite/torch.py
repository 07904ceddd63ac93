"""PyTorch porting: `to_torch` and its building blocks (layout converters, rename rules).

    from tfckpt_lite.torch import to_torch, dense_to_linear, LAYERNORM_RULES

`to_torch` is also at the top level (``tfckpt_lite.to_torch``). torch is an optional extra
(``pip install tfckpt-lite[torch]``), imported only when `to_torch` runs: the layout
converters and rename rules work on NumPy arrays and names alone.
"""

# Exactly `_torch.__all__`: the one list of these names.
from ._torch import *  # noqa: F403
from ._torch import __all__ as __all__
