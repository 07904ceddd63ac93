"""BertGeneration: bertseq2seq TF-Hub TF1 modules, exported by the oracle with
``tensorflow_hub`` and read by 4.57's loader through ``hub.Module``.

Names: what 4.57's ``load_tf_weights_in_bert_generation`` walks (the module's variable map,
two leading scope components it drops, ``module/bert/`` in its comment, then BERT's body
without a token-type table; the decoder stack's cross-attention as ``attention/encdec`` and
``attention/encdec_output``). The real modules (2-4 GB) were not inspected: these names are
the ones 4.57's walker accepts, which is what the modules it converted must have held.
"""

from __future__ import annotations

from . import Case, Var
from .bert import layer_variables

SMALL = {"vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 40, "max_position_embeddings": 24}  # fmt: skip
DECODER = {**SMALL, "is_decoder": True, "add_cross_attention": True}
LOADER = "transformers.models.bert_generation.modeling_bert_generation:"
LOADER += "load_tf_weights_in_bert_generation"


def _cross(p: str, h: int) -> list[Var]:
    out: list[Var] = []
    for d in ("attention/encdec/query", "attention/encdec/key", "attention/encdec/value",
              "attention/encdec_output/dense"):  # fmt: skip
        out += [(p + d + "/kernel", (h, h), "float32"), (p + d + "/bias", (h,), "float32")]
    ln = p + "attention/encdec_output/LayerNorm/"
    return [*out, (ln + "gamma", (h,), "float32"), (ln + "beta", (h,), "float32")]


def module_variables(cfg: dict[str, int], *, shared: bool = False) -> list[Var]:
    """bert2bert (an ``encoder`` and a ``decoder`` stack) or, with `shared`, one ``encoder``
    stack that also holds the decoder's cross-attention (the weight-shared variants)."""
    h, i, n = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    s = "module/bert/"
    out: list[Var] = [
        (s + "embeddings/word_embeddings", (cfg["vocab_size"], h), "float32"),
        (s + "embeddings/position_embeddings", (cfg["max_position_embeddings"], h), "float32"),
        (s + "embeddings/LayerNorm/gamma", (h,), "float32"),
        (s + "embeddings/LayerNorm/beta", (h,), "float32"),
    ]
    for layer in range(n):
        out += layer_variables(f"{s}encoder/layer_{layer}/", h, i)
        if shared:
            out += _cross(f"{s}encoder/layer_{layer}/", h)
        else:
            out += layer_variables(f"{s}decoder/layer_{layer}/", h, i)
            out += _cross(f"{s}decoder/layer_{layer}/", h)
    return [*out, ("global_step", (), "int64")]


TOKENS = {"input_ids": [[2, 17, 5, 49, 40, 3], [2, 9, 9, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip
FROM_ENCODER = {**TOKENS, "encoder_hidden_states": ("randn", (2, 5, 32))}
LM_BIAS = (r"^lm_head\.(decoder\.)?bias$",)  # no bias in the module: 4.57 kept its zeros

CASES = {
    "bert_generation_encoder": Case(
        model_type="bert-generation",
        config=SMALL,
        oracle_class="BertGenerationEncoder",
        loader=LOADER,
        loader_kwargs={"model_class": "bert", "is_encoder": True},
        variables=module_variables(SMALL),
        hub_module=True,
        inputs=TOKENS,
        outputs=("last_hidden_state",),
    ),
    "bert_generation_decoder": Case(
        model_type="bert-generation",
        config=DECODER,
        oracle_class="BertGenerationDecoder",
        loader=LOADER,
        loader_kwargs={"model_class": "bert", "is_encoder_named_decoder": True},
        variables=module_variables(SMALL),
        hub_module=True,
        kept=LM_BIAS,
        inputs=FROM_ENCODER,
        outputs=("logits",),
    ),
    "bert_generation_shared_decoder": Case(
        model_type="bert-generation",
        config=DECODER,
        oracle_class="BertGenerationDecoder",
        loader=LOADER,
        loader_kwargs={"model_class": "bert"},
        variables=module_variables(SMALL, shared=True),
        hub_module=True,
        kept=LM_BIAS,
        inputs=FROM_ENCODER,
        outputs=("logits",),
    ),
}
