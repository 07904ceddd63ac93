"""Port test cases: tiny configs and the exact variable names, shapes and dtypes of each
original TF release, one module per architecture family (each defines ``CASES``).

Plain data, importable without torch or TensorFlow: `tests/_port_oracle.py` imports them in
the oracle venv (transformers 4.57 + TF 2.21) to write the checkpoints and run 4.57's own
``load_tf_weights_in_<model>``; `tests/test_port_transformers.py` imports them in the
transformers 5 venv to compare.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

Var = tuple[str, tuple[int, ...], str]  # TF name, shape, dtype name


@dataclass(frozen=True)
class Case:
    """One release layout loaded into one class.

    Attributes:
        model_type: transformers ``config.model_type``.
        config: config fields (tiny sizes).
        oracle_class: the transformers 4.57 class the oracle loads into.
        loader: ``module:function`` of 4.57's ``load_tf_weights_in_<model>``.
        variables: the checkpoint's variables as the release names them.
        v5_class: the transformers 5 class (default: `oracle_class`).
        inputs: forward-pass inputs ``{argument: nested int lists}`` (the oracle saves
            its outputs for these); ``pixel_values`` shapes are given as ``("randn", shape)``.
        outputs: output attributes compared within 1e-5 (empty: no forward test).
        renamed: 4.57 parameter name -> transformers 5 name, where they differ.
        loader_kwargs: extra keyword arguments of the 4.57 loader.
        variables_from: ``module:function`` of a 4.57 ``_build_tf_to_pytorch_map``: the
            oracle takes the release names from it and the shapes from the parameters they
            point at (plus moving averages and RMSProp slots), instead of `variables`.
        v5_prefix: prepended to every 4.57 name (the oracle loads the bare base model, the
            transformers 5 class has it under its base-model prefix).
        hub_module: the release is a TF1 TF-Hub module, not a checkpoint: the oracle exports
            one (``OUT_DIR/CASE/module``) and 4.57's loader reads it through
            ``tensorflow_hub``; this library reads the module's ``variables/variables``.
        kept: regexes of 4.57 entries that are constants of the architecture, in no TF
            checkpoint (RoFormer's sinusoidal table, biases the release lacks): the oracle
            keeps its model's constructed values for them (so its forward pass runs) and
            saves them, to be compared with what this library computes.
    """

    model_type: str
    config: dict[str, Any]
    oracle_class: str
    loader: str
    variables: list[Var]
    v5_class: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    renamed: dict[str, str] = field(default_factory=dict)
    v5_prefix: str = ""
    loader_kwargs: dict[str, Any] = field(default_factory=dict)
    variables_from: str = ""
    kept: tuple[str, ...] = ()
    hub_module: bool = False

    def v5_name(self, old: str) -> str:
        return self.renamed.get(old, self.v5_prefix + old)

    @property
    def fixture(self) -> str:
        """What the oracle writes under the case's directory: a checkpoint prefix or a hub
        module directory."""
        return "module" if self.hub_module else "model.ckpt"

    @property
    def target_class(self) -> str:
        return self.v5_class or self.oracle_class


def all_cases() -> dict[str, Case]:
    """Every case of every family module, by case name."""
    out: dict[str, Case] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, case in getattr(module, "CASES", {}).items():
            assert name not in out, f"duplicate port case {name}"
            out[name] = case
    return out
