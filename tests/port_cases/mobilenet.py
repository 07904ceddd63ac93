"""MobileNet V1 (TF-slim ``MobilenetV1/...`` with RMSProp slots and moving averages)."""

from __future__ import annotations

from . import Case, Var

V1 = {"depth_multiplier": 0.25, "min_depth": 8, "num_labels": 11, "image_size": 32}
STRIDES = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]


def _depth(d: int, cfg: dict[str, float]) -> int:
    return max(int(d * cfg["depth_multiplier"]), int(cfg["min_depth"]))


def _conv(prefix: str, kernel: str, shape: tuple[int, ...], train: bool = True) -> list[Var]:
    c = shape[2] * shape[3] if kernel == "depthwise_weights" else shape[3]
    out: list[Var] = [(prefix + kernel, shape, "float32")]
    out += [(prefix + f"BatchNorm/{n}", (c,), "float32")
            for n in ("gamma", "beta", "moving_mean", "moving_variance")]  # fmt: skip
    if train:  # RMSProp slots of trainables, moving averages of all (what slim's train.py keeps)
        for name, s, _ in list(out):
            if not name.endswith(("moving_mean", "moving_variance")):
                out += [(name + "/RMSProp", s, "float32"), (name + "/RMSProp_1", s, "float32")]
            out.append((name + "/ExponentialMovingAverage", s, "float32"))
    return out


def mobilenet_v1_variables(cfg: dict[str, float], logits: bool = True) -> list[Var]:
    depth = 32
    c = _depth(depth, cfg)
    out = _conv("MobilenetV1/Conv2d_0/", "weights", (3, 3, 3, c))
    for i in range(13):
        cin = c
        if STRIDES[i] == 2 or i == 0:
            depth *= 2
            c = _depth(depth, cfg)
        out += _conv(f"MobilenetV1/Conv2d_{i + 1}_depthwise/", "depthwise_weights", (3, 3, cin, 1))
        out += _conv(f"MobilenetV1/Conv2d_{i + 1}_pointwise/", "weights", (1, 1, cin, c))
    if logits:
        n = int(cfg["num_labels"])
        out += [
            ("MobilenetV1/Logits/Conv2d_1c_1x1/weights", (1, 1, c, n), "float32"),
            ("MobilenetV1/Logits/Conv2d_1c_1x1/biases", (n,), "float32"),
        ]
    out.append(("global_step", (), "int64"))
    return out


LOADER = "transformers.models.mobilenet_v1.modeling_mobilenet_v1:load_tf_weights_in_mobilenet_v1"

CASES = {
    "mobilenet_v1": Case(
        model_type="mobilenet_v1",
        config=V1,
        oracle_class="MobileNetV1ForImageClassification",
        loader=LOADER,
        variables=mobilenet_v1_variables(V1),
        inputs={"pixel_values": ("randn", (2, 3, 32, 32))},
        outputs=("logits",),
    ),
    "mobilenet_v1_base": Case(
        model_type="mobilenet_v1",
        config=V1,
        oracle_class="MobileNetV1Model",
        loader=LOADER,
        variables=mobilenet_v1_variables(V1, logits=False),
        inputs={"pixel_values": ("randn", (1, 3, 40, 40))},
        outputs=("last_hidden_state", "pooler_output"),
    ),
}
