"""Decision Transformer: the GPT-2 backbone from a GPT-2 layout checkpoint. (vocab_size 2: the
4.57 loader squeezes every array, so it cannot load the default single-row ``wte``.)"""

from __future__ import annotations

from . import Case
from .gpt2 import gpt2_variables

DT = {"state_dim": 5, "act_dim": 3, "hidden_size": 32, "n_layer": 2, "n_head": 4,
      "max_ep_len": 50, "n_positions": 20, "vocab_size": 2}  # fmt: skip

CASES = {
    "decision_transformer": Case(
        model_type="decision_transformer",
        config=DT,
        oracle_class="DecisionTransformerGPT2Model",
        loader=(
            "transformers.models.decision_transformer.modeling_decision_transformer:"
            "load_tf_weights_in_gpt2"
        ),
        variables=gpt2_variables({"n_embd": 32, "vocab_size": 2, "n_positions": 20, "n_layer": 2}),
    ),
}
