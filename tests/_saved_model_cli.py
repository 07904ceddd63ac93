"""Run by tests/test_saved_model.py in a subprocess with TensorFlow: what
`saved_model_cli show --all --dir D` prints for each D given on the command line, as JSON
``{D: {"out": text} | {"error": message}}`` on stdout.

It calls the function behind ``show --all`` (`saved_model_cli._show_all`) once per directory
in one process, instead of one ~5 s TensorFlow start per directory. Its last part, "Concrete
Functions", comes from loading the model with TensorFlow; tfckpt-lite does not reproduce it,
so it is switched off here (with ``--functions`` it is kept, for the few tests that check it
is the only difference; it also prints `show --tag_set T --signature_def K` for every
tag-set T and signature K, as ``"T|K"`` entries).

``--write OUT`` first writes three SavedModels under OUT, as users make them: ``keras3`` (a
Keras 3 ``model.export``), ``module`` (a `tf.Module` with three signatures, one taking a ragged
and a sparse tensor) and ``tf1`` (TF1 ``SavedModelBuilder``, two tag-sets, a sparse input).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tensorflow.python.tools import saved_model_cli


def write_saved_models(out: str) -> list[str]:
    import numpy as np
    import tensorflow as tf

    # A Keras 3 export
    keras: Any = importlib.import_module("keras")
    inp = keras.Input((3,), name="features")
    hidden = keras.layers.Dense(4, activation="relu", name="hidden")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="logits")(hidden))
    model.export(os.path.join(out, "keras3"), verbose=False)

    # A tf.Module with several signatures
    m = tf.Module()
    m.w = tf.Variable(tf.ones([3, 2]), name="w")
    m.b = tf.Variable(tf.zeros([2], tf.float64), name="b")
    m.table = tf.Variable([b"a", b"b"])

    def predict(x: Any) -> Any:
        return {"y": tf.matmul(x, m.w), "n": tf.shape(x)[0]}

    def lookup(key: Any, ids: Any) -> Any:
        return tf.strings.join([key, tf.strings.as_string(ids)])

    def composite(r: Any, s: Any) -> Any:
        return {"rows": r.row_lengths(), "sum": tf.sparse.reduce_sum(s, axis=1)}

    m.predict = tf.function(predict, input_signature=[tf.TensorSpec([None, 3], tf.float32, "x")])
    m.lookup = tf.function(
        lookup,
        input_signature=[tf.TensorSpec([], tf.string, "key"), tf.TensorSpec(None, tf.int64, "ids")],
    )
    m.composite = tf.function(
        composite,
        input_signature=[
            tf.RaggedTensorSpec([None, None], tf.int32),
            tf.SparseTensorSpec([None, 4], tf.float32),
        ],
    )
    signatures = {"serving_default": m.predict, "lookup": m.lookup, "composite": m.composite}
    tf.saved_model.save(m, os.path.join(out, "module"), signatures=signatures)

    # TF1's SavedModelBuilder: two tag-sets, a sparse input
    d = os.path.join(out, "tf1")
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        x = tf.compat.v1.placeholder(tf.float32, [None, 2], name="x")
        sp = tf.compat.v1.sparse_placeholder(tf.int64, name="sp")
        w = tf.compat.v1.get_variable("w", initializer=np.ones((2, 1), np.float32))
        y = tf.matmul(x, w, name="y")
        sess.run(tf.compat.v1.global_variables_initializer())
        b = tf.compat.v1.saved_model.Builder(d)
        sig = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        sig2 = tf.compat.v1.saved_model.signature_def_utils.build_signature_def(
            inputs={"sp": tf.compat.v1.saved_model.build_tensor_info(sp)},
            outputs={"y": tf.compat.v1.saved_model.build_tensor_info(y)},
            method_name="tensorflow/serving/classify",
        )
        b.add_meta_graph_and_variables(
            sess, ["serve"], signature_def_map={"serving_default": sig, "sparse": sig2}
        )
        b.add_meta_graph(["train", "gpu"], signature_def_map={"train": sig})
        b.save()
    return [os.path.join(out, n) for n in ("keras3", "module", "tf1")]


def main(argv: list[str]) -> None:
    if argv[:1] == ["--write"]:
        argv = write_saved_models(argv[1]) + argv[2:]
    functions = "--functions" in argv
    if not functions:
        saved_model_cli._show_defined_functions = lambda *a, **k: None
    out: dict[str, dict[str, str]] = {}
    for d in (a for a in argv if a != "--functions"):
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                saved_model_cli._show_all(d)
            out[d] = {"out": buf.getvalue()}
        except Exception as e:
            out[d] = {"error": f"{type(e).__name__}: {e}"}
            continue
        if functions:  # also `show --tag_set T --signature_def K`, for every T and K
            from tensorflow.python.tools import saved_model_utils

            for mg in saved_model_utils.read_saved_model(d).meta_graphs:
                tags = ",".join(mg.meta_info_def.tags)
                for key in mg.signature_def:
                    buf = io.StringIO()
                    with contextlib.redirect_stdout(buf):
                        saved_model_cli._show_inputs_outputs(d, tags, key)
                    out[d][f"{tags}|{key}"] = buf.getvalue()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
