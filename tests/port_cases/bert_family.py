"""RemBERT, Megatron-BERT, RoCBert: names as 4.57's BERT walker takes them, generated in the
oracle from the 4.57 model (``variables_from="walker:<scope>"``)."""

from __future__ import annotations

from . import Case

SMALL = {"vocab_size": 50, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
         "intermediate_size": 40, "max_position_embeddings": 24}  # fmt: skip
M = "transformers.models"

CASES = {
    "rembert_mlm": Case(
        model_type="rembert",
        config={
            **SMALL,
            "input_embedding_size": 16,
            "output_embedding_size": 24,
            "bos_token_id": 1,
            "eos_token_id": 2,
        },
        oracle_class="RemBertForMaskedLM",
        loader=f"{M}.rembert.modeling_rembert:load_tf_weights_in_rembert",
        variables=[],
        variables_from="walker:bert",
    ),
    "megatron_bert_pretraining": Case(
        model_type="megatron-bert",
        config=SMALL,
        oracle_class="MegatronBertForPreTraining",
        loader=f"{M}.megatron_bert.modeling_megatron_bert:load_tf_weights_in_megatron_bert",
        variables=[],
        variables_from="walker:bert",
    ),
    "roc_bert_pretraining": Case(
        model_type="roc_bert",
        config={**SMALL, "pronunciation_vocab_size": 20, "shape_vocab_size": 20},
        oracle_class="RoCBertForPreTraining",
        loader=f"{M}.roc_bert.modeling_roc_bert:load_tf_weights_in_roc_bert",
        variables=[],
        variables_from="walker:roc_bert",
    ),
}
