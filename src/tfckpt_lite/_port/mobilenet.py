"""MobileNet V1: TF-slim releases (``mobilenet_v1_<depth>_<size>.ckpt``).

Release names (TF-slim: Conv2D ``HWIO``, depthwise ``[h, w, in, 1]``, BatchNorm with scale):

    MobilenetV1/Conv2d_0/weights
    MobilenetV1/Conv2d_0/BatchNorm/{gamma,beta,moving_mean,moving_variance}
    MobilenetV1/Conv2d_<k>_depthwise/depthwise_weights, .../BatchNorm/...    k = 1..13
    MobilenetV1/Conv2d_<k>_pointwise/weights, .../BatchNorm/...
    MobilenetV1/Logits/Conv2d_1c_1x1/{weights [1, 1, C, labels], biases}
    .../RMSProp, .../RMSProp_1, .../ExponentialMovingAverage, global_step: unused.

transformers numbers the 26 depthwise/pointwise layers in one list: depthwise k is layer
``2(k-1)``, pointwise k is ``2(k-1)+1``. The classifier is a Linear layer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._engine import Recipe

Shape = tuple[int, ...]

_BN = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
       "moving_variance": "running_var"}  # fmt: skip
_V1_LAYER = re.compile(r"^MobilenetV1/Conv2d_(\d+)_(depthwise|pointwise)/(.+)$")


def slim_leaf(rest: str) -> str | None:
    """A TF-slim conv layer's variable (``weights``, ``BatchNorm/gamma``, ...) -> the
    transformers ConvLayer attribute path, or None."""
    if rest in ("weights", "depthwise_weights"):
        return "convolution/weight"
    if rest.startswith("BatchNorm/") and rest[len("BatchNorm/") :] in _BN:
        return "normalization/" + _BN[rest[len("BatchNorm/") :]]
    return None


def mobilenet_v1_name(key: str) -> str | None:
    """TF-slim MobileNet V1 name -> transformers name (with ``/``), None for others."""
    if key == "MobilenetV1/Logits/Conv2d_1c_1x1/weights":
        return "classifier/weight"
    if key == "MobilenetV1/Logits/Conv2d_1c_1x1/biases":
        return "classifier/bias"
    if key.startswith("MobilenetV1/Conv2d_0/"):
        part = slim_leaf(key[len("MobilenetV1/Conv2d_0/") :])
        return None if part is None else "mobilenet_v1/conv_stem/" + part
    m = _V1_LAYER.match(key)
    if m is None:
        return None
    part = slim_leaf(m[3])
    index = 2 * (int(m[1]) - 1) + (m[2] == "pointwise")
    return None if part is None else f"mobilenet_v1/layer/{index}/{part}"


def logits_to_linear(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """A 1x1 Conv2D used as the classifier ``[1, 1, in, out]`` -> Linear ``[out, in]``."""
    return a.reshape(a.shape[-2:]).T


def _v1_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    stem = shapes["MobilenetV1/Conv2d_0/weights"]
    out: dict[str, Any] = {"num_channels": stem[2], "depth_multiplier": stem[3] / 32}
    logits = shapes.get("MobilenetV1/Logits/Conv2d_1c_1x1/weights")
    if logits is not None:
        out["num_labels"] = logits[-1]
    # min_depth only clamps tiny multipliers; the stem's width already reflects it.
    out["min_depth"] = min(8, stem[3])
    return out


RECIPES = (
    Recipe(
        model_types=("mobilenet_v1",),
        rename=mobilenet_v1_name,
        layouts=(
            (r"/depthwise_weights$", "depthwise"),
            (r"^MobilenetV1/Logits/.*/weights$", logits_to_linear),
            (r"/weights$", "conv2d"),
        ),
        signature=r"^MobilenetV1/Conv2d_\d+",
        classes=(
            ("MobileNetV1ForImageClassification", r"^MobilenetV1/Logits/"),
            ("MobileNetV1Model", None),
        ),
        infer_config=_v1_config,
    ),
)
