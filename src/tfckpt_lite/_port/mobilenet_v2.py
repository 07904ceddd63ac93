"""MobileNet V2: TF-slim releases (``mobilenet_v2_<depth>_<size>.ckpt``) and DeepLabV3's
MobileNetV2 (``deeplabv3_mnv2_pascal_*``, semantic segmentation).

Release names (TF-slim: Conv2D ``HWIO``, depthwise ``[h, w, in, 1]``, BatchNorm with scale):

    MobilenetV2/Conv/{weights,BatchNorm/...}                                 stem
    MobilenetV2/expanded_conv/{depthwise/depthwise_weights,project/weights}/..., BatchNorm
    MobilenetV2/expanded_conv_<k>/{expand,depthwise,project}/...             k = 1..16
    MobilenetV2/Conv_1/{weights,BatchNorm/...}
    MobilenetV2/Logits/Conv2d_1c_1x1/{weights,biases}                        classifier
    image_pooling/, aspp0/, concat_projection/ {weights,BatchNorm/...}       DeepLabV3 head
    logits/semantic/{weights,biases}
Where ``<var>/ExponentialMovingAverage`` exists for a weight, beta or gamma, the average is
loaded (as transformers 4.x did); moving mean/variance use the plain statistic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._engine import Recipe
from .mobilenet import logits_to_linear, slim_leaf

Shape = tuple[int, ...]

_BLOCK = re.compile(r"^MobilenetV2/expanded_conv_(\d+)/(expand|depthwise|project)/(.+)$")
_PART = {"expand": "expand_1x1", "depthwise": "conv_3x3", "project": "reduce_1x1"}
_HEAD = {
    "image_pooling": "segmentation_head/conv_pool",
    "aspp0": "segmentation_head/conv_aspp",
    "concat_projection": "segmentation_head/conv_projection",
}


def mobilenet_v2_name(key: str) -> str | None:
    """TF-slim / DeepLab MobileNet V2 name -> transformers name (with ``/``), or None."""
    base = "mobilenet_v2/"
    fixed = {
        "MobilenetV2/Logits/Conv2d_1c_1x1/weights": "classifier/weight",
        "MobilenetV2/Logits/Conv2d_1c_1x1/biases": "classifier/bias",
        "logits/semantic/weights": "segmentation_head/classifier/convolution/weight",
        "logits/semantic/biases": "segmentation_head/classifier/convolution/bias",
    }
    if key in fixed:
        return fixed[key]
    scope, _, rest = key.partition("/")
    if scope in _HEAD:
        leaf = slim_leaf(rest)
        return None if leaf is None else f"{_HEAD[scope]}/{leaf}"
    m = _BLOCK.match(key)
    if m:
        leaf = slim_leaf(m[3])
        index = int(m[1]) - 1
        return None if leaf is None else f"{base}layer/{index}/{_PART[m[2]]}/{leaf}"
    for prefix, part in (
        ("MobilenetV2/Conv/", "conv_stem/first_conv"),
        ("MobilenetV2/expanded_conv/depthwise/", "conv_stem/conv_3x3"),
        ("MobilenetV2/expanded_conv/project/", "conv_stem/reduce_1x1"),
        ("MobilenetV2/Conv_1/", "conv_1x1"),
    ):
        if key.startswith(prefix):
            leaf = slim_leaf(key[len(prefix) :])
            return None if leaf is None else f"{base}{part}/{leaf}"
    return None


def _v2_config(shapes: Mapping[str, Shape]) -> dict[str, Any]:
    stem = shapes["MobilenetV2/Conv/weights"]
    out: dict[str, Any] = {"num_channels": stem[2], "depth_multiplier": stem[3] / 32}
    logits = shapes.get("MobilenetV2/Logits/Conv2d_1c_1x1/weights")
    if logits is not None:
        out["num_labels"] = logits[-1]
    semantic = shapes.get("logits/semantic/weights")
    if semantic is not None:
        out["num_labels"] = semantic[-1]
    return out


RECIPES = (
    Recipe(
        model_types=("mobilenet_v2",),
        rename=mobilenet_v2_name,
        layouts=(
            (r"/depthwise_weights(/ExponentialMovingAverage)?$", "depthwise"),
            (r"^MobilenetV2/Logits/.*/weights(/ExponentialMovingAverage)?$", logits_to_linear),
            (r"/weights(/ExponentialMovingAverage)?$", "conv2d"),
        ),
        signature=r"^MobilenetV2/(Conv|expanded_conv)",
        classes=(
            ("MobileNetV2ForImageClassification", r"^MobilenetV2/Logits/"),
            ("MobileNetV2ForSemanticSegmentation", r"^logits/semantic/"),
            ("MobileNetV2Model", None),
        ),
        # As transformers 4.x: averages of the network's and the logits' weights, not of the
        # DeepLab head's convolutions nor of any moving statistic.
        prefer_average=(
            r"^(MobilenetV2/.*/(weights|depthwise_weights|biases|BatchNorm/(beta|gamma))"
            r"|logits/semantic/(weights|biases))$"
        ),
        infer_config=_v2_config,
    ),
)
