"""ImageGPT: openai/image-gpt ``model.ckpt-<step>`` (per-head q/k/v/c_proj tensors, no
biases, separate start-of-sequence vector and output embedding)."""

from __future__ import annotations

from . import Case, Var

# vocab_size counts the start token: the release's tables have vocab_size - 1 rows. Heads
# 16 wide: 4.57's attention divides by int(sqrt(head width)) (its `torch_float` returns an
# int), which is the true scale only for square widths (igpt-s's 64; not igpt-m's 128 or
# igpt-l's 96, where 4.57's forward pass was off and transformers 5's is right).
IMAGEGPT = {"vocab_size": 17, "n_positions": 16, "n_embd": 32, "n_layer": 2, "n_head": 2}


def imagegpt_variables(cfg: dict[str, int], *, clf: int = 0) -> list[Var]:
    e, h, clusters = cfg["n_embd"], cfg["n_head"], cfg["vocab_size"] - 1
    out: list[Var] = [
        ("model/wpe", (cfg["n_positions"], e), "float32"),
        ("model/wte", (clusters, e), "float32"),
        ("model/wtet", (clusters, e), "float32"),
        ("model/sos", (e,), "float32"),
        ("model/ln_f/g", (e,), "float32"),
    ]
    for i in range(cfg["n_layer"]):
        p = f"model/h{i}/"
        out += [(p + "ln_1/g", (e,), "float32"), (p + "ln_2/g", (e,), "float32")]
        out += [(p + f"attn/{m}", (h, e // h, e), "float32")
                for m in ("q_proj", "k_proj", "v_proj", "c_proj")]  # fmt: skip
        out += [(p + "mlp/c_fc/w", (e, 4 * e), "float32"),
                (p + "mlp/c_proj/w", (4 * e, e), "float32")]  # fmt: skip
    if clf:
        out.append(("model/clf/wclf", (clf, e), "float32"))
    out.append(("global_step", (), "int64"))
    return out


CASES = {
    # 4.57's loader walks ImageGPTForCausalImageModeling only (`transformer.` + `lm_head`).
    "imagegpt_causal": Case(
        model_type="imagegpt",
        config=IMAGEGPT,
        oracle_class="ImageGPTForCausalImageModeling",
        loader="transformers.models.imagegpt.modeling_imagegpt:load_tf_weights_in_imagegpt",
        variables=imagegpt_variables(IMAGEGPT),
        inputs={"input_ids": [[16, 3, 15, 0, 7, 7, 2], [16, 1, 2, 3, 4, 5, 6]]},
        outputs=("logits",),
        # The release's layers have no biases; 4.57's model starts them at zero.
        kept=(r"\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.bias$",),
    ),
}
