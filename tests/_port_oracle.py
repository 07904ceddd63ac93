"""The issue-12 oracle, run by the test suite in a separate venv with TensorFlow 2.21 and
transformers 4.57 (the last release with ``load_tf_weights_in_<model>``):

    $TFCKPT_ORACLE_PYTHON tests/_port_oracle.py OUT_DIR CASE [CASE ...]

For each case of tests/port_cases: TF writes a random checkpoint with the release's exact
names, shapes and dtypes (``tf.compat.v1`` variables + ``Saver``, like the releases) at
``OUT_DIR/CASE/model.ckpt``; then transformers 4.57 builds the model, sets every
floating-point entry to NaN (but the case's `kept` constants), runs its own loader on the
checkpoint, and saves to ``OUT_DIR/CASE/oracle.safetensors`` every entry the loader filled
(no NaN left) and the kept ones, the forward inputs (``__in__/NAME``) and outputs
(``__out__/NAME``). Does not import tfckpt_lite.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def _value(rng: np.random.Generator, name: str, shape: tuple[int, ...], dtype: str) -> Any:
    if dtype.startswith("int"):
        return np.asarray(rng.integers(0, 1000, size=shape), dtype=dtype)
    x = 0.2 * rng.standard_normal(shape)
    leaf = name.rsplit("/", 1)[-1]
    if leaf in ("moving_variance", "variance"):
        x = np.abs(x) + 0.5
    elif leaf in ("gamma", "g", "scale"):
        x = 1.0 + x
    return x.astype(np.float32)


def variables_from_map(case: Any) -> list[tuple[str, tuple[int, ...], str]]:
    """Release names from a 4.57 ``_build_tf_to_pytorch_map``, TF shapes from the PyTorch
    parameters they fill (TF-slim layouts), plus what slim's training leaves beside them:
    moving averages of every variable and RMSProp slots of the trainable ones."""
    import transformers

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    model = getattr(transformers, case.oracle_class)(config)
    module, fn = case.variables_from.split(":")
    mapping = getattr(importlib.import_module(module), fn)(model, config, {})
    out = []
    for name, param in mapping.items():
        s = tuple(param.shape)
        if name.endswith("depthwise_weights"):
            s = (s[2], s[3], s[0], s[1])
        elif len(s) == 4:
            s = (s[2], s[3], s[1], s[0])
        elif len(s) == 2:
            s = (1, 1, s[1], s[0])
        out.append((name, s, "float32"))
        out.append((name + "/ExponentialMovingAverage", s, "float32"))
        if not name.endswith(("moving_mean", "moving_variance")):
            out += [(name + "/RMSProp", s, "float32"), (name + "/RMSProp_1", s, "float32")]
    out.append(("global_step", (), "int64"))
    return out


def variables_from_walker(case: Any) -> list[tuple[str, tuple[int, ...], str]]:
    """For families whose 4.57 loader is BERT's attribute walker (names are the PyTorch
    module paths, ``layer_<i>`` or ``<list>/<i>`` for list items, Dense ``kernel``
    ``[in, out]``, LayerNorm ``gamma``/``beta``, embeddings without ``/weight``): the names
    that walker accepts for every trainable parameter of the oracle class, with
    `case.variables_from` = ``"walker:<tf prefix>"`` naming the scope that replaces the
    base-model attribute."""
    import re

    import torch
    import transformers

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    model = getattr(transformers, case.oracle_class)(config)
    tf_prefix = case.variables_from.split(":", 1)[1]
    out = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        *path, leaf = name.split(".")
        module = model.get_submodule(".".join(path))
        if path and path[0] == model.base_model_prefix:
            path[0] = tf_prefix
        # The walker splits ``layer_<i>`` (letters, then the index) and takes any other
        # list item (``x_layers``, a Sequential's ``logit_fc``) as an attribute ``<i>``.
        scope = re.sub(r"(^|/)([A-Za-z]+)/(\d+)(?=/|$)", r"\1\2_\3", "/".join(path))
        shape = tuple(param.shape)
        if isinstance(module, torch.nn.Embedding) and scope.endswith("_embeddings"):
            out.append((scope, shape, "float32"))
        elif isinstance(module, torch.nn.LayerNorm):
            out.append((f"{scope}/{'gamma' if leaf == 'weight' else 'beta'}", shape, "float32"))
        elif isinstance(module, torch.nn.Linear) and leaf == "weight":
            out.append((f"{scope}/kernel", shape[::-1], "float32"))
        elif scope == "cls/predictions" and leaf == "bias":
            out.append(("cls/predictions/output_bias", shape, "float32"))
        else:
            out.append((f"{scope}/{leaf}", shape, "float32"))
    out += [(n + "/adam_m", s, d) for n, s, d in out[:2]]
    out.append(("global_step", (), "int64"))
    return out


def write_checkpoint(tf: Any, case: Any, prefix: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    if case.variables_from.startswith("walker:"):
        variables = variables_from_walker(case)
    elif case.variables_from:
        variables = variables_from_map(case)
    else:
        variables = case.variables
    graph = tf.Graph()
    with graph.as_default():
        var_list = {}
        for i, (name, shape, dtype) in enumerate(variables):
            init = tf.constant(_value(rng, name, tuple(shape), dtype))
            if dtype != init.dtype.name:
                init = tf.cast(init, getattr(tf, dtype))
            var_list[name] = tf.compat.v1.Variable(init, name=f"v{i}")
        saver = tf.compat.v1.train.Saver(var_list=var_list)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(prefix), write_meta_graph=False, write_state=False)


def import_hub() -> Any:
    """tensorflow_hub 0.15, the last release with TF1 hub modules (``hub.Module``, which
    4.57's BertGeneration loader calls). It imports ``tf.compat.v1.estimator`` for its
    estimator exporter, and TF 2.16+ has no estimator; nothing here exports through an
    estimator, so an empty stand-in for that one module lets the rest import unchanged."""
    import types

    name = "tensorflow.compat.v1.estimator"
    try:
        importlib.import_module(name)
    except ImportError:
        stand_in = types.ModuleType(name)
        stand_in.Exporter = type("Exporter", (), {})  # type: ignore[attr-defined]
        stand_in.ModeKeys = types.SimpleNamespace(PREDICT="infer")  # type: ignore[attr-defined]
        sys.modules[name] = stand_in
    import tensorflow_hub as hub

    return hub


def write_hub_module(tf: Any, case: Any, path: Path, seed: int) -> None:
    """A TF1 hub module (a SavedModel plus ``tfhub_module.pb``) whose variables have the
    case's names and values, exported the way TF-Hub's TF1 modules were
    (``hub.create_module_spec`` + ``Module.export``)."""
    import shutil

    hub = import_hub()
    tf1 = tf.compat.v1
    rng = np.random.default_rng(seed)
    values = [(n, _value(rng, n, tuple(s), d), d) for n, s, d in case.variables]

    def module_fn() -> None:
        tokens = tf1.placeholder(tf.int32, [None, None])
        made = [
            tf1.get_variable(n, initializer=tf.constant(v), trainable=d.startswith("float"))
            for n, v, d in values
        ]
        table = next(v for v in made if v.shape.rank == 2)
        hub.add_signature(inputs=tokens, outputs=tf.gather(table, tokens))

    spec = hub.create_module_spec(module_fn)
    shutil.rmtree(path, ignore_errors=True)
    with tf.Graph().as_default():
        module = hub.Module(spec)
        with tf1.Session() as sess:
            sess.run(tf1.global_variables_initializer())
            module.export(str(path), sess)


def run_oracle(case: Any, prefix: Path, out: Path, seed: int) -> None:
    import torch
    import transformers
    from safetensors.torch import save_file

    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    model = getattr(transformers, case.oracle_class)(config).eval()
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point() and not any(re.search(x, name) for x in case.kept):
                t.fill_(float("nan"))
    module, fn = case.loader.split(":")
    loader = getattr(importlib.import_module(module), fn)
    # Most loaders take (model, config, path); BigBird's takes (model, path).
    takes_config = "config" in list(inspect.signature(loader).parameters)[1]
    args = (model, config, str(prefix)) if takes_config else (model, str(prefix))
    loader(*args, **case.loader_kwargs)
    tensors = {
        k: v.detach().clone().contiguous()
        for k, v in model.state_dict().items()
        if v.is_floating_point() and not torch.isnan(v).any()
    }
    if case.outputs:
        g = torch.Generator().manual_seed(seed)
        inputs = {}
        for arg, spec in case.inputs.items():
            if isinstance(spec, tuple) and spec[0] == "randn":
                inputs[arg] = torch.randn(*spec[1], generator=g)
            else:
                inputs[arg] = torch.tensor(spec)
        with torch.no_grad():
            result = model(**inputs)
        for arg, value in inputs.items():
            tensors[f"__in__/{arg}"] = value.contiguous()
        for name in case.outputs:
            tensors[f"__out__/{name}"] = getattr(result, name).detach().contiguous()
    save_file(tensors, str(out))


def main(argv: list[str]) -> int:
    import tensorflow as tf

    from tests.port_cases import all_cases

    out_dir, names = Path(argv[0]), argv[1:]
    cases = all_cases()
    # 4.57's hub-module loader switches the whole process to graph mode
    # (tf.disable_eager_execution); loaders that need eager tensors run before it.
    names = sorted(names, key=lambda n: cases[n].hub_module)
    for name in names:
        case = cases[name]
        seed = zlib.crc32(name.encode())
        (out_dir / name).mkdir(parents=True, exist_ok=True)
        prefix = out_dir / name / case.fixture
        if case.hub_module:
            write_hub_module(tf, case, prefix, seed)
        else:
            write_checkpoint(tf, case, prefix, seed)
        run_oracle(case, prefix, out_dir / name / "oracle.safetensors", seed)
        print(f"oracle: {name} done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
