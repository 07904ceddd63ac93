"""GPT-2: openai/gpt-2 ``model.ckpt`` (Conv1D weights with a leading width-1 axis)."""

from __future__ import annotations

from . import Case, Var

GPT2 = {"vocab_size": 96, "n_positions": 20, "n_embd": 32, "n_layer": 2, "n_head": 4}


def gpt2_variables(cfg: dict[str, int], prefix: str = "model") -> list[Var]:
    e, v = cfg["n_embd"], cfg["vocab_size"]
    out: list[Var] = [
        (f"{prefix}/wte", (v, e), "float32"),
        (f"{prefix}/wpe", (cfg["n_positions"], e), "float32"),
        (f"{prefix}/ln_f/g", (e,), "float32"),
        (f"{prefix}/ln_f/b", (e,), "float32"),
    ]
    for i in range(cfg["n_layer"]):
        p = f"{prefix}/h{i}/"
        out += [
            (p + "ln_1/g", (e,), "float32"),
            (p + "ln_1/b", (e,), "float32"),
            (p + "attn/c_attn/w", (1, e, 3 * e), "float32"),
            (p + "attn/c_attn/b", (3 * e,), "float32"),
            (p + "attn/c_proj/w", (1, e, e), "float32"),
            (p + "attn/c_proj/b", (e,), "float32"),
            (p + "ln_2/g", (e,), "float32"),
            (p + "ln_2/b", (e,), "float32"),
            (p + "mlp/c_fc/w", (1, e, 4 * e), "float32"),
            (p + "mlp/c_fc/b", (4 * e,), "float32"),
            (p + "mlp/c_proj/w", (1, 4 * e, e), "float32"),
            (p + "mlp/c_proj/b", (e,), "float32"),
        ]
    return out


LOADER = "transformers.models.gpt2.modeling_gpt2:load_tf_weights_in_gpt2"
TOKENS = {"input_ids": [[5, 17, 95, 0, 33, 2, 2], [1, 2, 3, 4, 5, 6, 7]]}

CASES = {
    # 4.57's loader walks `model/` names from the bare GPT2Model only.
    "gpt2": Case(
        model_type="gpt2",
        config=GPT2,
        oracle_class="GPT2Model",
        loader=LOADER,
        variables=gpt2_variables(GPT2),
        inputs=TOKENS,
        outputs=("last_hidden_state",),
    ),
    "gpt2_lm_head": Case(
        model_type="gpt2",
        config=GPT2,
        oracle_class="GPT2Model",
        v5_class="GPT2LMHeadModel",
        loader=LOADER,
        variables=gpt2_variables(GPT2),
        v5_prefix="transformer.",
    ),
}
