"""RoFormer: ZhuiyiTechnology/roformer ``bert_model.ckpt`` as bert4keras writes it (BERT's
names, no position embeddings, MLM head; no optimizer slots or counters)."""

from __future__ import annotations

from . import Case, Var
from .bert import bert_variables

ROFORMER = {
    "vocab_size": 50,
    "embedding_size": 32,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 24,
    "type_vocab_size": 2,
}


def roformer_variables(cfg: dict[str, int], *, mlm: bool = True) -> list[Var]:
    """BERT's variables less what bert4keras's RoFormer does not have (position table,
    pooler and NSP head of the MLM releases, the counter)."""
    drop = ("bert/embeddings/position_embeddings", "bert/pooler/", "cls/seq_relationship/",
            "global_step")  # fmt: skip
    return [v for v in bert_variables(cfg, heads=mlm) if not v[0].startswith(drop)]


LOADER = "transformers.models.roformer.modeling_roformer:load_tf_weights_in_roformer"
TOKENS = {"input_ids": [[2, 17, 5, 49, 40, 3], [2, 9, 9, 1, 0, 0]],
          "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
          "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip
# The sinusoidal table of rotary attention: a constant, in no checkpoint.
TABLE = (r"encoder\.embed_positions\.weight$",)

CASES = {
    "roformer_mlm": Case(
        model_type="roformer",
        config=ROFORMER,
        oracle_class="RoFormerForMaskedLM",
        loader=LOADER,
        variables=roformer_variables(ROFORMER),
        inputs=TOKENS,
        outputs=("logits",),
        kept=TABLE,
    ),
    "roformer_base": Case(
        model_type="roformer",
        config=ROFORMER,
        oracle_class="RoFormerModel",
        loader=LOADER,
        variables=roformer_variables(ROFORMER, mlm=False),
        inputs=TOKENS,
        outputs=("last_hidden_state",),
        kept=TABLE,
    ),
    # chinese_roformer-gpt-char: the same names, read as a decoder.
    "roformer_causal_lm": Case(
        model_type="roformer",
        config={**ROFORMER, "is_decoder": True},
        oracle_class="RoFormerForCausalLM",
        loader=LOADER,
        variables=roformer_variables(ROFORMER),
        inputs=TOKENS,
        outputs=("logits",),
        kept=TABLE,
    ),
}
