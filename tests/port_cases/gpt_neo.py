"""GPT-Neo: EleutherAI mesh-tf layout (``gpt2/h<i>/attn/{q,k,v,o}``, padded vocabulary)."""

from __future__ import annotations

from typing import Any

from . import Case, Var

NEO = {
    "vocab_size": 96, "max_position_embeddings": 20, "hidden_size": 32, "num_layers": 2,
    "num_heads": 4, "attention_types": [[["global", "local"], 1]], "window_size": 4,
}  # fmt: skip


def gpt_neo_variables(cfg: dict[str, Any], padded_vocab: int, dtype: str) -> list[Var]:
    e = int(cfg["hidden_size"])
    w: list[tuple[str, tuple[int, ...]]] = [
        ("gpt2/wte", (padded_vocab, e)),
        ("gpt2/wpe", (int(cfg["max_position_embeddings"]), e)),
        ("gpt2/ln_f/g", (e,)),
        ("gpt2/ln_f/b", (e,)),
    ]
    for i in range(int(cfg["num_layers"])):
        p = f"gpt2/h{i}/"
        w += [(p + f"norm_{n}/{gb}", (e,)) for n in (1, 2) for gb in "gb"]
        w += [(p + f"attn/{m}", (e, e)) for m in "qkvo"]
        w += [(p + "attn/compute_output_bias/o_b", (e,))]
        m = p + "mlp/conv1d_main/"
        w += [(m + "c_fc/kernel", (e, 4 * e)), (m + "c_fc/bias", (4 * e,))]
        w += [(m + "c_proj/kernel", (4 * e, e)), (m + "c_proj/bias", (e,))]
    out: list[Var] = [(n, s, dtype) for n, s in w]
    out += [(n + "/adam_m", s, "float32") for n, s in w[:3]]
    return [*out, ("global_step", (), "int64")]


CASES = {
    "gpt_neo": Case(
        model_type="gpt_neo",
        config=NEO,
        oracle_class="GPTNeoForCausalLM",
        loader="transformers.models.gpt_neo.modeling_gpt_neo:load_tf_weights_in_gpt_neo",
        variables=gpt_neo_variables(NEO, padded_vocab=104, dtype="bfloat16"),
        inputs={"input_ids": [[5, 17, 95, 0, 33, 2, 2], [1, 2, 3, 4, 5, 6, 7]]},
        outputs=("logits",),
    ),
}
