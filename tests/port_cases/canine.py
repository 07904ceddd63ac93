"""CANINE: the variables google-research/language ``language/canine/modeling.py`` creates
(CANINE-S/-C pre-trained checkpoints), with Adam slots of a fine-tuning run and ``global_step``.

Names and shapes from the release code: ``_embed_hash_buckets`` (``embeddings/
HashBucketCodepointEmbedder_<k>`` ``[buckets, H / hashes]`` under ``char_embeddings``),
``embedding_postprocessor`` (``segment_embeddings`` with 16 types, ``char_position_embeddings``
``[max_positions, H]``, ``LayerNorm``), ``tf.layers.conv1d(name="conv")`` kernels ``[width, in,
out]``, the doubly opened ``initial_char_encoder`` scope around ``chars_to_molecules``, and
BERT's ``transformer_model`` layers under ``initial_char_encoder``, ``bert`` and
``final_char_encoder``. transformers sizes ``char_position_embeddings`` by ``num_hash_buckets``
(both 16384 in the release), so the tiny config keeps them equal too.
"""

from __future__ import annotations

from . import Case, Var
from .bert import layer_variables

CANINE = {
    "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 37, "num_hash_functions": 8, "num_hash_buckets": 64,
    "max_position_embeddings": 64, "type_vocab_size": 16, "downsampling_rate": 4,
    "upsampling_kernel_size": 4, "local_transformer_stride": 8,
}  # fmt: skip


def canine_variables(cfg: dict[str, int], *, adam: bool = False) -> list[Var]:
    h, i, k = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hash_functions"]
    f = "float32"
    c2m = "initial_char_encoder/initial_char_encoder/chars_to_molecules"
    out: list[Var] = [
        *[(f"char_embeddings/embeddings/HashBucketCodepointEmbedder_{j}",
           (cfg["num_hash_buckets"], h // k), f) for j in range(k)],
        ("char_embeddings/segment_embeddings", (cfg["type_vocab_size"], h), f),
        ("char_embeddings/char_position_embeddings", (cfg["max_position_embeddings"], h), f),
        ("char_embeddings/LayerNorm/gamma", (h,), f),
        ("char_embeddings/LayerNorm/beta", (h,), f),
        *layer_variables("initial_char_encoder/layer_0/", h, i),
        (f"{c2m}/conv/kernel", (cfg["downsampling_rate"], h, h), f),
        (f"{c2m}/conv/bias", (h,), f),
        (f"{c2m}/LayerNorm/gamma", (h,), f),
        (f"{c2m}/LayerNorm/beta", (h,), f),
        *[v for n in range(cfg["num_hidden_layers"])
          for v in layer_variables(f"bert/layer_{n}/", h, i)],
        ("final_char_encoder/conv/kernel", (cfg["upsampling_kernel_size"], 2 * h, h), f),
        ("final_char_encoder/conv/bias", (h,), f),
        ("final_char_encoder/LayerNorm/gamma", (h,), f),
        ("final_char_encoder/LayerNorm/beta", (h,), f),
        *layer_variables("final_char_encoder/layer_0/", h, i),
        ("pooler/dense/kernel", (h, h), f),
        ("pooler/dense/bias", (h,), f),
    ]  # fmt: skip
    if adam:
        out += [(f"{n}/{slot}", s, d) for n, s, d in list(out) for slot in ("adam_m", "adam_v")]
    out.append(("global_step", (), "int64"))
    return out


# Codepoints: [CLS] = U+E000, [SEP] = U+E001; 16 characters (a multiple of the rate).
CHARS = {
    "input_ids": [[0xE000, 104, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 0xE001, 0, 0, 0],
                  [0xE000, 0x4F60, 0x597D, 0xE001, 33, 0x1F600, 63, 0xE001] + [0] * 8],
    "token_type_ids": [[0] * 13 + [0] * 3, [0] * 4 + [1] * 4 + [0] * 8],
    "attention_mask": [[1] * 13 + [0] * 3, [1] * 8 + [0] * 8],
}  # fmt: skip

CASES = {
    "canine": Case(
        model_type="canine",
        config=CANINE,
        oracle_class="CanineModel",
        loader="transformers.models.canine.modeling_canine:load_tf_weights_in_canine",
        variables=canine_variables(CANINE, adam=True),
        inputs=CHARS,
        outputs=("last_hidden_state", "pooler_output"),
    ),
}
