"""T5 (v1.0: float32, tied LM head) and mT5 (v1.1 layout: bfloat16 weights, gated GELU,
separate ``decoder/logits``), mesh-tf names with Adafactor slots."""

from __future__ import annotations

from typing import Any

from . import Case, Var

T5 = {
    "vocab_size": 64, "d_model": 32, "d_kv": 8, "d_ff": 48, "num_layers": 2,
    "num_decoder_layers": 2, "num_heads": 4, "relative_attention_num_buckets": 8,
    "relative_attention_max_distance": 16, "feed_forward_proj": "relu",
    "tie_word_embeddings": True, "decoder_start_token_id": 0,
}  # fmt: skip
MT5 = {**T5, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}


def t5_variables(cfg: dict[str, Any], dtype: str) -> list[Var]:
    d, inner, ff = int(cfg["d_model"]), int(cfg["d_kv"]) * int(cfg["num_heads"]), int(cfg["d_ff"])
    gated = cfg["feed_forward_proj"] == "gated-gelu"
    weights: list[tuple[str, tuple[int, ...]]] = [("shared/embedding", (int(cfg["vocab_size"]), d))]
    for stack, n in (("encoder", cfg["num_layers"]), ("decoder", cfg["num_decoder_layers"])):
        for b in range(int(n)):
            layers = ["SelfAttention"] + (["EncDecAttention"] if stack == "decoder" else [])
            for j, att in enumerate(layers):
                p = f"{stack}/block_{b:03d}/layer_{j:03d}/"
                weights += [(p + f"{att}/{m}", (d, inner) if m != "o" else (inner, d))
                            for m in "qkvo"]  # fmt: skip
                if b == 0 and att == "SelfAttention":
                    rab = (int(cfg["num_heads"]), int(cfg["relative_attention_num_buckets"]))
                    weights.append((p + f"{att}/relative_attention_bias", rab))
                weights.append((p + "layer_norm/scale", (d,)))
            p = f"{stack}/block_{b:03d}/layer_{len(layers):03d}/"
            wis = ["wi_0", "wi_1"] if gated else ["wi"]
            weights += [(p + f"DenseReluDense/{w}/kernel", (d, ff)) for w in wis]
            weights += [(p + "DenseReluDense/wo/kernel", (ff, d)), (p + "layer_norm/scale", (d,))]
        weights.append((f"{stack}/final_layer_norm/scale", (d,)))
    if not cfg["tie_word_embeddings"]:
        weights.append(("decoder/logits/kernel", (d, int(cfg["vocab_size"]))))
    out: list[Var] = [(n, s, dtype) for n, s in weights]
    for n, s in weights:  # Adafactor: factored second moments for matrices, full for vectors
        if len(s) == 2:
            out += [(n + "_slot_vr", (s[0],), "float32"), (n + "_slot_vc", (s[1],), "float32")]
        else:
            out.append((n + "_slot_v", s, "float32"))
    out.append(("global_step", (), "int64"))
    return out


TOKENS = {
    "input_ids": [[3, 14, 15, 9, 2, 1], [7, 7, 63, 1, 0, 0]],
    "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
    "decoder_input_ids": [[0, 5, 6, 11], [0, 2, 40, 1]],
}

CASES = {
    "t5": Case(
        model_type="t5",
        config=T5,
        oracle_class="T5ForConditionalGeneration",
        loader="transformers.models.t5.modeling_t5:load_tf_weights_in_t5",
        variables=t5_variables(T5, "float32"),
        inputs=TOKENS,
        outputs=("logits", "encoder_last_hidden_state"),
    ),
    "mt5_bfloat16": Case(
        model_type="mt5",
        config=MT5,
        oracle_class="MT5ForConditionalGeneration",
        loader="transformers.models.mt5.modeling_mt5:load_tf_weights_in_mt5",
        variables=t5_variables(MT5, "bfloat16"),
        inputs=TOKENS,
        outputs=("logits", "encoder_last_hidden_state"),
    ),
}
