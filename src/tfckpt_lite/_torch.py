"""Porting TensorFlow checkpoints to PyTorch: state dicts, layout helpers, rename rules.

torch is an optional dependency (``pip install tfckpt-lite[torch]``) imported only inside
`to_torch`; the layout helpers and rename rules are plain NumPy and work without it.

Memory: every large fixed-size tensor the reader returns is a private copy-on-write mapping
of its bytes, and transposed layouts are strided views of those (no copy either): the state
dict costs address space, not RAM, until a value is written, and a write only ever changes a
private in-memory page, never the checkpoint. Arrays from a reader opened with
``readonly=True`` share memory between reads; those are copied, so that every tensor is the
caller's alone.

Layouts (TF -> PyTorch):
    Dense kernel          [in, out]              -> Linear weight        [out, in]
    Conv1D kernel         [w, in, out]           -> Conv1d weight        [out, in, w]
    Conv2D kernel (HWIO)  [h, w, in, out]        -> Conv2d weight (OIHW) [out, in, h, w]
    Conv3D kernel         [d, h, w, in, out]     -> Conv3d weight        [out, in, d, h, w]
    DepthwiseConv2D       [h, w, in, mult]       -> Conv2d(groups=in)    [in*mult, 1, h, w]
    Embedding, biases, LayerNorm gamma/beta, BatchNorm statistics: unchanged (renamed only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ._naming import OBJECT_GRAPH_KEY, OPTIMIZER_SLOT, SAVE_COUNTER, VARIABLE_VALUE_SUFFIX

if TYPE_CHECKING:
    from ._api import CheckpointReader

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

RenameRules = Sequence[tuple[str, str | None]]
Layout = Callable[[np.ndarray[Any, Any]], np.ndarray[Any, Any]]
TransposeSpec = str | Sequence[tuple[str, str | Layout]] | Callable[[str, Any], Any] | None

DEFAULT_EXCLUDE: Final[tuple[str, ...]] = (
    rf"^{re.escape(OBJECT_GRAPH_KEY)}$",
    rf"{re.escape(OPTIMIZER_SLOT)}/",
    r"^optimizer/",
    rf"^{SAVE_COUNTER}/",
    r"(^|/)global_step$",
    r"(^|/)beta[12]_power(_\d+)?$",
    r"/(Adam|Adam_\d+|adam_m|adam_v|Momentum|RMSProp|RMSProp_\d+|ExponentialMovingAverage)$",
    r"/(Adagrad|AdagradDA|AdagradDA_\d+|Adadelta|Adadelta_\d+|Ftrl|Ftrl_\d+|LAMB|LAMB_\d+)$",
)
"""Keys `to_torch` leaves out by default: the object graph, optimizer state, counters. Also
the rules `tfckpt_lite.edit(strip=True)` applies to keys no object graph owns."""

LAYERNORM_RULES: Final[tuple[tuple[str, str | None], ...]] = (
    (r"(LayerNorm|layer_norm|layernorm|ln[^/]*)/gamma$", r"\1/weight"),
    (r"(LayerNorm|layer_norm|layernorm|ln[^/]*)/beta$", r"\1/bias"),
)
"""LayerNorm ``gamma``/``beta`` -> ``weight``/``bias``."""

BATCHNORM_RULES: Final[tuple[tuple[str, str | None], ...]] = (
    (r"/moving_mean$", "/running_mean"),
    (r"/moving_variance$", "/running_var"),
    (r"/gamma$", "/weight"),
    (r"/beta$", "/bias"),
)
"""BatchNorm ``gamma``/``beta``/``moving_mean``/``moving_variance`` -> ``weight``/``bias``/
``running_mean``/``running_var`` (PyTorch's ``num_batches_tracked`` has no TF counterpart;
BatchNorm's ``load_state_dict`` fills it in)."""


# -- layout helpers (NumPy; views, never copies) ----------------------------------------------


def _check_rank(kernel: np.ndarray[Any, Any], rank: int, what: str) -> None:
    if kernel.ndim != rank:
        raise ValueError(f"{what} kernel must have rank {rank}, got shape {kernel.shape}")


def dense_to_linear(kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Dense kernel ``[in, out]`` -> ``nn.Linear`` weight ``[out, in]``."""
    _check_rank(kernel, 2, "Dense")
    return kernel.T


def conv1d_to_torch(kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Conv1D kernel ``[w, in, out]`` -> ``nn.Conv1d`` weight ``[out, in, w]``."""
    _check_rank(kernel, 3, "Conv1D")
    return kernel.transpose(2, 1, 0)


def conv2d_to_torch(kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Conv2D kernel HWIO ``[h, w, in, out]`` -> ``nn.Conv2d`` weight OIHW."""
    _check_rank(kernel, 4, "Conv2D")
    return kernel.transpose(3, 2, 0, 1)


def conv3d_to_torch(kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Conv3D kernel ``[d, h, w, in, out]`` -> ``nn.Conv3d`` weight ``[out, in, d, h, w]``."""
    _check_rank(kernel, 5, "Conv3D")
    return kernel.transpose(4, 3, 0, 1, 2)


def depthwise_to_torch(kernel: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """DepthwiseConv2D kernel ``[h, w, in, mult]`` -> ``nn.Conv2d(groups=in)`` weight
    ``[in * mult, 1, h, w]``; output channel ``c * mult + m`` is TF's ``[..., c, m]``."""
    _check_rank(kernel, 4, "DepthwiseConv2D")
    h, w, cin, mult = kernel.shape
    t = kernel.transpose(2, 3, 0, 1)  # [in, mult, h, w]
    # Merging in and mult is a view only when they are adjacent in memory; else a copy.
    return t.reshape(cin * mult, 1, h, w)


_LAYOUTS: Final[dict[str, Layout]] = {
    "dense": dense_to_linear,
    "linear": dense_to_linear,
    "conv1d": conv1d_to_torch,
    "conv2d": conv2d_to_torch,
    "conv3d": conv3d_to_torch,
    "depthwise": depthwise_to_torch,
    "none": lambda a: a,
}


def _auto_layout(key: str, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`transpose="auto"`: a key whose last component is ``kernel`` (or ``depthwise_kernel``)
    is converted by rank: 2 Dense, 3 Conv1D, 4 Conv2D (depthwise by name), 5 Conv3D."""
    leaf = key.removesuffix(VARIABLE_VALUE_SUFFIX)
    last = leaf.rsplit("/", 1)[-1].lstrip("_")  # Keras 3 names it `_kernel`
    if last not in ("kernel", "depthwise_kernel", "weights", "depthwise_weights"):
        return arr
    if arr.ndim == 4 and "depthwise" in leaf:
        return depthwise_to_torch(arr)
    fn = {2: dense_to_linear, 3: conv1d_to_torch, 4: conv2d_to_torch, 5: conv3d_to_torch}.get(
        arr.ndim
    )
    return arr if fn is None else fn(arr)


def _layout_fn(spec: TransposeSpec) -> Callable[[str, np.ndarray[Any, Any]], Any]:
    if spec is None:
        return lambda key, arr: arr
    if spec == "auto":
        return _auto_layout
    if isinstance(spec, str):
        raise ValueError(f"transpose must be 'auto', None, rules or a callable, not {spec!r}")
    if callable(spec):
        return spec
    rules: list[tuple[re.Pattern[str], Layout]] = []
    for pattern, how in spec:
        if isinstance(how, str):
            if how not in _LAYOUTS:
                raise ValueError(f"unknown layout {how!r}; one of {sorted(_LAYOUTS)}")
            rules.append((re.compile(pattern), _LAYOUTS[how]))
        else:
            rules.append((re.compile(pattern), how))

    def apply(key: str, arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        for rx, fn in rules:
            if rx.search(key):
                return fn(arr)
        return arr

    return apply


# -- renaming ---------------------------------------------------------------------------------


def rename_key(key: str, rules: RenameRules | Callable[[str], str | None] | None) -> str | None:
    """Apply ordered regex rules to `key`, like a sed script: each ``(pattern, replacement)``
    runs `re.sub` on the result of the previous one. A rule whose replacement is None drops
    the key (returns None) when its pattern matches. A callable is called instead."""
    if rules is None:
        return key
    if callable(rules):
        return rules(key)
    out = key
    for pattern, repl in rules:
        if repl is None:
            if re.search(pattern, out):
                return None
            continue
        out = re.sub(pattern, repl, out)
    return out


# -- to_torch ---------------------------------------------------------------------------------

_TORCH_VIEW: Final = {  # ml_dtypes names -> (unsigned view width, torch dtype attribute)
    "bfloat16": (2, "bfloat16"),
    "float8_e4m3fn": (1, "float8_e4m3fn"),
    "float8_e5m2": (1, "float8_e5m2"),
    "float8_e4m3fnuz": (1, "float8_e4m3fnuz"),
    "float8_e5m2fnuz": (1, "float8_e5m2fnuz"),
}


def _to_tensor(torch: Any, arr: np.ndarray[Any, Any], tf_dtype: str) -> Any:
    if not arr.flags.writeable:
        arr = np.array(arr)  # a `readonly` reader's shared view: see the module docstring
    if tf_dtype in _TORCH_VIEW:
        width, name = _TORCH_VIEW[tf_dtype]
        target = getattr(torch, name, None)
        if target is None:
            return torch.from_numpy(arr.astype(np.float32))
        # Same bits, a type torch knows: view as unsigned ints, then reinterpret.
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return torch.from_numpy(arr.view(f"<u{width}")).view(target)
    if arr.dtype.kind not in "biufc" or arr.dtype.type.__module__ != "numpy":
        # int4/uint4 and other sub-byte types: widen (torch has no usable 4-bit tensors).
        wide = np.int8 if arr.dtype.kind == "i" or "int" in arr.dtype.name else np.float32
        return torch.from_numpy(arr.astype(wide))
    if any(s < 0 for s in arr.strides):
        arr = np.ascontiguousarray(arr)
    return torch.from_numpy(arr)


def to_torch(
    path_or_reader: CheckpointReader | str | os.PathLike[str],
    *,
    rename: RenameRules | Callable[[str], str | None] | None = None,
    transpose: TransposeSpec = None,
    exclude: Sequence[str] | None = DEFAULT_EXCLUDE,
    strip_attributes: bool = True,
    model_paths: bool = False,
    separator: str | None = None,
    dtype: Any = None,
) -> dict[str, Any]:
    """A PyTorch state dict (``{name: torch.Tensor}``) from a TF checkpoint.

    Args:
        path_or_reader: anything `load_checkpoint` accepts, or an open `CheckpointReader`.
        rename: ordered ``(regex, replacement)`` rules applied in turn to every name (a
            replacement of None drops matching names), or a callable ``name -> name|None``.
            Rules see the name after `strip_attributes` / `model_paths`, before `separator`.
        transpose: layout conversion, keyed on the TF name before `rename` (the model path
            with `model_paths`; no ``/.ATTRIBUTES/VARIABLE_VALUE``): None (keep TF layouts),
            ``"auto"`` (kernels by rank: Dense, Conv1D/2D/3D, depthwise by name), a list of
            ``(regex, layout)`` rules with layout one of ``"dense"``, ``"conv1d"``,
            ``"conv2d"``, ``"conv3d"``, ``"depthwise"``, ``"none"`` or a function of the
            array (first matching rule wins), or a callable ``(name, array) -> array``.
        exclude: regexes of TF keys (of model paths, with `model_paths`) to leave out
            (default: optimizer state, counters, the object graph). Strings and other
            non-numeric tensors are always left out.
        strip_attributes: drop the ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix of TF2 keys.
        model_paths: name TF2 variables by their object-graph model path
            (``model/layer_with_weights-0/kernel``) where the graph gives one.
        separator: replace ``/`` with this at the end (``"."`` for PyTorch module names).
        dtype: a torch dtype (``torch.float16``...) for floating-point tensors; integer and
            bool tensors keep theirs. Casting makes a copy, tensor by tensor.

    Tensors are writable and private: large ones are copy-on-write mappings of the checkpoint
    (see the module docstring). Raises `ValueError` when two keys map to the same name.
    """
    try:
        import torch
    except ImportError:
        raise ImportError(
            "to_torch needs PyTorch: pip install 'tfckpt-lite[torch]' (the CPU build is enough)"
        ) from None
    from ._api import CheckpointReader, load_checkpoint
    from ._graph import model_path

    if isinstance(path_or_reader, CheckpointReader):
        reader, owned = path_or_reader, False
    else:
        reader, owned = load_checkpoint(os.fspath(path_or_reader)), True
    layout = _layout_fn(transpose)
    excluded = [re.compile(x) for x in (exclude or ())]
    graph = reader.object_graph if model_paths else None
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    try:
        for key in reader:
            dt = reader.dtype_info(key)
            if not dt.is_fixed_size:
                continue  # strings, variants, resources have no tensor form
            name = key
            if graph is not None:
                name = model_path(graph, key) or key
            # `exclude` sees the model path when there is one: Keras 3 stores model weights
            # under optimizer/_trainable_variables/N, which must not count as optimizer state.
            if any(rx.search(name) for rx in excluded):
                continue
            if strip_attributes:
                name = name.removesuffix(VARIABLE_VALUE_SUFFIX)
            tf_name = name
            new = rename_key(name, rename)
            if new is None:
                continue
            if separator is not None:
                new = new.replace("/", separator)
            if new in out:
                raise ValueError(f"keys {origin[new]!r} and {key!r} both map to {new!r}")
            arr = layout(tf_name, reader[key])
            tensor = _to_tensor(torch, arr, dt.name)
            if dtype is not None and tensor.is_floating_point():
                tensor = tensor.to(dtype)
            out[new] = tensor
            origin[new] = key
    finally:
        if owned:
            reader.close()
    return out
