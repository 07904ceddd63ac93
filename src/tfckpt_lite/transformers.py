"""Original TensorFlow releases (BERT, GPT-2, T5, MobileNet, ...) into transformers models.

transformers 5 dropped its ``load_tf_weights_in_<model>`` functions, and with them the only
way to load the TF1 checkpoints that Google, OpenAI and others released. Here the same job
needs neither TensorFlow nor an old transformers::

    model = transformers.BertForPreTraining(config)
    report = load_tf_checkpoint(model, "uncased_L-12_H-768_A-12/bert_model.ckpt")

The mapping is chosen by ``model.config.model_type``; `supported_model_types` lists them and
docs/transformers_architectures.md shows the release names each one handles. torch and
transformers are optional extras, imported when a function here runs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._port import PortError, PortReport, Recipe, recipe_for, recipes
from ._port._engine import check_release, plan_and_load, release_recipe

if TYPE_CHECKING:
    import torch

    from ._api import CheckpointReader

__all__ = [
    "PortError",
    "PortReport",
    "load_tf_checkpoint",
    "state_dict_for",
    "supported_model_types",
]


def __dir__() -> list[str]:
    """The public names only (this module's own imports are not part of its API)."""
    return sorted(__all__)


def supported_model_types() -> list[str]:
    """The ``config.model_type`` values that have a recipe, sorted."""
    return sorted(recipes())


def load_tf_checkpoint(
    model: Any, path: str | os.PathLike[str], *, strict: bool = True
) -> PortReport:
    """Fill transformers model `model` in place from an original TF checkpoint at `path`.

    Args:
        model: a transformers PyTorch model: the base model (``BertModel``) or one with the
            heads the release holds (``BertForPreTraining``, ``T5ForConditionalGeneration``,
            ``MobileNetV1ForImageClassification``, ...).
        path: anything `tfckpt_lite.load_checkpoint` accepts (a prefix such as
            ``bert_model.ckpt``, its ``.index``, a directory with a ``checkpoint`` file).
        strict: raise `PortError` when a tensor's shape does not fit its parameter or a
            parameter the release should provide is not in the checkpoint. Nothing is
            copied into the model unless every check passes. With ``strict=False`` the
            fitting tensors are loaded and the rest reported.

    Returns:
        A `PortReport`: which checkpoint tensors went where, parameters not in the
        checkpoint, checkpoint tensors not used (optimizer slots, ``global_step``, heads the
        class lacks).
    """
    recipe = recipe_for(_model_type(model))
    reader = _open(path)
    try:
        report, _ = plan_and_load(recipe, reader, model, strict=strict, copy_into_model=True)
    finally:
        reader.close()
    return report


def state_dict_for(
    path: str | os.PathLike[str],
    model_type: str,
    config: Any = None,
    *,
    model_class: str | None = None,
    strict: bool = True,
) -> dict[str, torch.Tensor]:
    """The transformers state dict of an original TF checkpoint, without building a model
    (no weights are allocated: the model is built on PyTorch's ``meta`` device).

    Args:
        path: the checkpoint.
        model_type: ``"bert"``, ``"gpt2"``, ``"t5"``, ... (`supported_model_types`).
        config: a transformers config, a dict of its fields, a path to a ``config.json``,
            or None to derive the sizes from the checkpoint's shapes.
        model_class: the transformers class whose names the dict uses; default: the most
            specific class whose heads the checkpoint holds in full (``BertForPreTraining``,
            else ``BertForMaskedLM``, ..., else ``BertModel``).
        strict: as in `load_tf_checkpoint`.

    Returns:
        ``{name: tensor}`` as ``save_pretrained`` would write it: tied copies left out,
        each tensor in the model's dtype, sharing memory with the checkpoint's
        copy-on-write mapping where no conversion was needed.
    """
    state, _report, _cls, _cfg = port_state(path, model_type, config, model_class, strict)
    return state


def port_state(
    path: str | os.PathLike[str],
    model_type: str,
    config: Any,
    model_class: str | None,
    strict: bool,
) -> tuple[dict[str, Any], PortReport, str, Any]:
    """`state_dict_for` plus its report, the class used and the config (for `tfckpt port`)."""
    import torch
    import transformers

    recipe = recipe_for(model_type)
    reader = _open(path)
    try:
        shapes = {k: tuple(reader.shape(k)) for k in reader}
        recipe = release_recipe(recipe, list(shapes))
        check_release(recipe, list(shapes), str(reader.prefix))
        cfg = _config(transformers, str(reader.prefix), recipe, model_type, config, shapes)
        candidates = [model_class] if model_class else _candidate_classes(recipe, shapes)
        for i, name in enumerate(candidates):
            cls = getattr(transformers, name, None)
            if cls is None:
                raise ValueError(
                    f"model_class: transformers {transformers.__version__} has no {name!r}"
                )
            with torch.device("meta"):
                model = cls(cfg)
            try:
                report, state = plan_and_load(
                    recipe, reader, model, strict=strict, copy_into_model=False
                )
                break
            except PortError:
                # A class whose heads the checkpoint only partly holds: try the next one
                # (the list ends with the base model, whose error is the one to show).
                if i == len(candidates) - 1:
                    raise
    finally:
        reader.close()
    return state, report, name, cfg


def _model_type(model: Any) -> str:
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if not isinstance(model_type, str) or not model_type:
        raise TypeError(
            f"model: expected a transformers model (with config.model_type), got "
            f"{type(model).__name__}"
        )
    return model_type


def _open(path: str | os.PathLike[str]) -> CheckpointReader:
    from ._api import load_checkpoint  # its arrays are writable and private: torch may own them

    return load_checkpoint(os.fspath(path))


def _candidate_classes(recipe: Recipe, shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    """The recipe's classes whose head keys the checkpoint has, most specific first."""
    return [
        name
        for name, needs in recipe.classes
        if needs is None or any(re.search(needs, k) for k in shapes)
    ]


def _config(
    transformers: Any,
    path: str,
    recipe: Recipe,
    model_type: str,
    config: Any,
    shapes: Mapping[str, tuple[int, ...]],
) -> Any:
    if isinstance(config, transformers.PretrainedConfig):
        if config.model_type != model_type:
            raise ValueError(f"config: model_type {config.model_type!r} is not {model_type!r}")
        return config
    if config is None:
        if recipe.infer_config is None:
            raise ValueError(
                f"config: {model_type} sizes cannot be read off the checkpoint; pass the "
                f"release's config (a transformers config, a dict or a config.json path)"
            )
        try:
            fields = recipe.infer_config(shapes)
        except KeyError as e:
            raise PortError(
                f"cannot read the {model_type} sizes off the checkpoint: it has no tensor "
                f"{e}; pass the release's config",
                path=path,
            ) from None
    elif isinstance(config, Mapping):
        fields = dict(config)
    elif isinstance(config, (str, os.PathLike)):
        with open(config, encoding="utf-8") as f:
            fields = json.load(f)
        if not isinstance(fields, dict):
            raise ValueError(f"config: {os.fspath(config)!r} does not hold a JSON object")
    else:
        raise TypeError(
            f"config: expected a transformers config, a dict, a path or None, got "
            f"{type(config).__name__}"
        )
    declared = fields.pop("model_type", model_type)
    if declared != model_type:
        raise ValueError(f"config: model_type {declared!r} is not {model_type!r}")
    fields.pop("architectures", None)
    return transformers.AutoConfig.for_model(model_type, **fields)
