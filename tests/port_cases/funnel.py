"""Funnel Transformer: laiguokun/funnel-transformer layout (layers numbered through the
blocks, then the decoder), with the ELECTRA-style generator beside it."""

from __future__ import annotations

from typing import Any

from . import Case, Var

FUNNEL = {"vocab_size": 60, "block_sizes": [1, 2], "num_decoder_layers": 1, "d_model": 32,
          "n_head": 4, "d_head": 8, "d_inner": 40}  # fmt: skip


def _layer(p: str, d: int, n: int, dh: int, ff: int) -> list[tuple[str, tuple[int, ...]]]:
    a = p + "rel_attn/"
    w: list[tuple[str, tuple[int, ...]]] = [(a + f"{m}/kernel", (d, n, dh)) for m in "qkv"]
    w += [(a + "k/bias", (n, dh)), (a + "v/bias", (n, dh))]
    w += [(a + "o/kernel", (n, dh, d)), (a + "o/bias", (d,)), (a + "r/kernel", (d, n, dh))]
    w += [(a + b, (n, dh)) for b in ("r_w_bias", "r_r_bias", "r_s_bias")]
    w += [
        (a + "seg_embed", (2, n, dh)),
        (a + "layer_norm/gamma", (d,)),
        (a + "layer_norm/beta", (d,)),
    ]
    f = p + "ff/"
    w += [(f + "layer_1/kernel", (d, ff)), (f + "layer_1/bias", (ff,)),
          (f + "layer_2/kernel", (ff, d)), (f + "layer_2/bias", (d,)),
          (f + "layer_norm/gamma", (d,)), (f + "layer_norm/beta", (d,))]  # fmt: skip
    return w


def funnel_variables(cfg: dict[str, Any]) -> list[Var]:
    d, n, dh, ff = cfg["d_model"], cfg["n_head"], cfg["d_head"], cfg["d_inner"]
    w: list[tuple[str, tuple[int, ...]]] = [
        ("model/input/word_embedding/lookup_table", (cfg["vocab_size"], d)),
        ("model/input/layer_norm/gamma", (d,)),
        ("model/input/layer_norm/beta", (d,)),
    ]
    n_enc = sum(cfg["block_sizes"])
    for i in range(n_enc):
        w += _layer(f"model/encoder/layer_{i}/", d, n, dh, ff)
    for j in range(cfg["num_decoder_layers"]):
        w += _layer(f"model/decoder/layer_{n_enc + j}/", d, n, dh, ff)
    w += [("generator/input/word_embedding/lookup_table", (cfg["vocab_size"], 16))]
    out: list[Var] = [(name, s, "float32") for name, s in w]
    return [*out, ("global_step", (), "int64")]


CASES = {
    "funnel": Case(
        model_type="funnel",
        config=FUNNEL,
        oracle_class="FunnelModel",
        loader="transformers.models.funnel.modeling_funnel:load_tf_weights_in_funnel",
        variables=funnel_variables(FUNNEL),
        inputs={"input_ids": [[5, 17, 59, 0, 33, 2, 9, 1]]},
        outputs=("last_hidden_state",),
    ),
}
