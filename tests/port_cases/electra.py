"""ELECTRA: one google-research/electra checkpoint, discriminator and generator."""

from __future__ import annotations

from . import Case, Var

DISC = {
    "vocab_size": 80, "embedding_size": 16, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 40, "max_position_embeddings": 24,
}  # fmt: skip
GEN = {**DISC, "hidden_size": 24, "num_attention_heads": 2, "intermediate_size": 30}


def _layers(scope: str, h: int, i: int, n: int) -> list[tuple[str, tuple[int, ...]]]:
    out: list[tuple[str, tuple[int, ...]]] = []
    for layer in range(n):
        p = f"{scope}/encoder/layer_{layer}/"
        for d in ("attention/self/query", "attention/self/key", "attention/self/value",
                  "attention/output/dense"):  # fmt: skip
            out += [(p + d + "/kernel", (h, h)), (p + d + "/bias", (h,))]
        out += [(p + "intermediate/dense/kernel", (h, i)), (p + "intermediate/dense/bias", (i,)),
                (p + "output/dense/kernel", (i, h)), (p + "output/dense/bias", (h,))]  # fmt: skip
        for ln in ("attention/output/LayerNorm", "output/LayerNorm"):
            out += [(p + ln + "/gamma", (h,)), (p + ln + "/beta", (h,))]
    return out


def electra_variables(disc: dict[str, int], gen: dict[str, int]) -> list[Var]:
    v, e, hd, hg = (
        disc["vocab_size"],
        disc["embedding_size"],
        disc["hidden_size"],
        gen["hidden_size"],
    )
    w: list[tuple[str, tuple[int, ...]]] = [
        ("electra/embeddings/word_embeddings", (v, e)),
        ("electra/embeddings/position_embeddings", (disc["max_position_embeddings"], e)),
        ("electra/embeddings/token_type_embeddings", (2, e)),
        ("electra/embeddings/LayerNorm/gamma", (e,)),
        ("electra/embeddings/LayerNorm/beta", (e,)),
        ("electra/embeddings_project/kernel", (e, hd)),
        ("electra/embeddings_project/bias", (hd,)),
        ("generator/embeddings_project/kernel", (e, hg)),
        ("generator/embeddings_project/bias", (hg,)),
        ("discriminator_predictions/dense/kernel", (hd, hd)),
        ("discriminator_predictions/dense/bias", (hd,)),
        ("discriminator_predictions/dense_1/kernel", (hd, 1)),
        ("discriminator_predictions/dense_1/bias", (1,)),
        ("generator_predictions/dense/kernel", (hg, e)),
        ("generator_predictions/dense/bias", (e,)),
        ("generator_predictions/LayerNorm/gamma", (e,)),
        ("generator_predictions/LayerNorm/beta", (e,)),
        ("generator_predictions/output_bias", (v,)),
    ]
    w += _layers("electra", hd, disc["intermediate_size"], disc["num_hidden_layers"])
    w += _layers("generator", hg, gen["intermediate_size"], gen["num_hidden_layers"])
    out: list[Var] = [(n, s, "float32") for n, s in w]
    out += [("generator_predictions/temperature", (), "float32"), ("global_step", (), "int64")]
    return out


LOADER = "transformers.models.electra.modeling_electra:load_tf_weights_in_electra"
TOKENS = {"input_ids": [[2, 17, 5, 79, 40, 3], [2, 9, 9, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip

CASES = {
    "electra_discriminator": Case(
        model_type="electra",
        config=DISC,
        oracle_class="ElectraForPreTraining",
        loader=LOADER,
        variables=electra_variables(DISC, GEN),
        inputs=TOKENS,
        outputs=("logits",),
    ),
    "electra_generator": Case(
        model_type="electra",
        config=GEN,
        oracle_class="ElectraForMaskedLM",
        loader=LOADER,
        loader_kwargs={"discriminator_or_generator": "generator"},
        variables=electra_variables(DISC, GEN),
        inputs=TOKENS,
        outputs=("logits",),
    ),
}
