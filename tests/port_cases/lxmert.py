"""LXMERT: no TF release exists (airsplay/lxmert ships a PyTorch file), so the names are the
ones 4.57's loader (BERT's attribute walker) accepts, generated in the oracle from the 4.57
model: ``layer_<i>`` for the language layers, ``x_layers/<i>``, ``r_layers/<i>`` and
``answer_head/logit_fc/<i>`` where the walker could not split an index off."""

from __future__ import annotations

from . import Case

LXMERT = {"vocab_size": 50, "hidden_size": 32, "num_attention_heads": 4,
          "intermediate_size": 37, "max_position_embeddings": 24, "l_layers": 2,
          "x_layers": 2, "r_layers": 1, "visual_feat_dim": 12, "visual_pos_dim": 4,
          "num_qa_labels": 5, "num_object_labels": 7, "num_attr_labels": 6}  # fmt: skip
LOADER = "transformers.models.lxmert.modeling_lxmert:load_tf_weights_in_lxmert"
INPUTS = {
    "input_ids": [[2, 17, 5, 49, 40, 3], [2, 9, 9, 1, 0, 0]],
    "token_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
    "attention_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]],
    "visual_feats": ("randn", (2, 3, 12)),
    "visual_pos": ("randn", (2, 3, 4)),
}

CASES = {
    "lxmert_pretraining": Case(
        model_type="lxmert",
        config=LXMERT,
        oracle_class="LxmertForPreTraining",
        loader=LOADER,
        variables=[],
        variables_from="walker:lxmert",
        inputs=INPUTS,
        outputs=("prediction_logits", "cross_relationship_score", "question_answering_score"),
    ),
    "lxmert_qa": Case(
        model_type="lxmert",
        config=LXMERT,
        oracle_class="LxmertForQuestionAnswering",
        loader=LOADER,
        variables=[],
        variables_from="walker:lxmert",
        inputs=INPUTS,
        outputs=("question_answering_score",),
    ),
}
