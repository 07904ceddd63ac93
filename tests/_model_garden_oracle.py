"""The TF Model Garden oracle, run by tests/test_port_model_garden.py in the oracle venv
(TF 2.21 + tf-models-official, ``official.nlp.modeling``):

    $TFCKPT_ORACLE_PYTHON tests/_model_garden_oracle.py OUT_DIR

For each of Model Garden's BERT encoders (``BertEncoder``, the Keras functional one of its
TF2 BERT releases, and ``BertEncoderV2``): build a tiny one, give every variable random
values, save it as the releases are saved (``tf.train.Checkpoint(encoder=...)``) at
``OUT_DIR/<class>/ckpt-1``, and write its outputs on fixed inputs to
``OUT_DIR/<class>/outputs.npz``. Does not import tfckpt_lite.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

SIZES = {"vocab_size": 99, "hidden_size": 32, "num_layers": 2, "num_attention_heads": 4,
         "inner_dim": 37, "max_sequence_length": 24, "type_vocab_size": 2}  # fmt: skip
INPUTS = {"input_word_ids": [[2, 17, 5, 98, 40, 3], [2, 9, 9, 1, 0, 0]],
          "input_type_ids": [[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 0]],
          "input_mask": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]]}  # fmt: skip
ENCODERS = ("BertEncoder", "BertEncoderV2")


def main(argv: list[str]) -> int:
    import tensorflow as tf
    from official.nlp.modeling import networks

    out_dir = Path(argv[0])
    for name in ENCODERS:
        encoder = getattr(networks, name)(**SIZES)
        inputs = {k: np.asarray(v, np.int32) for k, v in INPUTS.items()}
        encoder(inputs)  # builds every variable
        rng = np.random.default_rng(len(name))
        for v in encoder.variables:
            x = 0.2 * rng.standard_normal(v.shape)
            v.assign((x + (1.0 if "gamma" in v.name else 0.0)).astype(np.float32))
        result = encoder(inputs)
        if not isinstance(result, dict):  # BertEncoder without dict_outputs: a list
            result = {"sequence_output": result[0], "pooled_output": result[1]}
        prefix = tf.train.Checkpoint(encoder=encoder).save(str(out_dir / name / "ckpt"))
        np.savez(
            out_dir / name / "outputs.npz",
            sequence_output=result["sequence_output"].numpy(),
            pooled_output=result["pooled_output"].numpy(),
        )
        print(f"model garden oracle: {name} -> {prefix}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
