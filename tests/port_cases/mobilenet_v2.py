"""MobileNet V2: TF-slim and DeepLabV3 layouts, names taken from transformers 4.57's own map,
with moving averages (loaded instead of the raw weights) and RMSProp slots."""

from __future__ import annotations

from . import Case

V2 = {"depth_multiplier": 0.35, "num_labels": 7, "image_size": 32}
MODULE = "transformers.models.mobilenet_v2.modeling_mobilenet_v2"

CASES = {
    "mobilenet_v2": Case(
        model_type="mobilenet_v2",
        config=V2,
        oracle_class="MobileNetV2ForImageClassification",
        loader=f"{MODULE}:load_tf_weights_in_mobilenet_v2",
        variables=[],
        variables_from=f"{MODULE}:_build_tf_to_pytorch_map",
        inputs={"pixel_values": ("randn", (2, 3, 32, 32))},
        outputs=("logits",),
    ),
    "mobilenet_v2_deeplab": Case(
        model_type="mobilenet_v2",
        config={**V2, "num_labels": 5, "output_stride": 8},
        oracle_class="MobileNetV2ForSemanticSegmentation",
        loader=f"{MODULE}:load_tf_weights_in_mobilenet_v2",
        variables=[],
        variables_from=f"{MODULE}:_build_tf_to_pytorch_map",
    ),
}
