"""The rule engine behind `tfckpt_lite.transformers`: one `Recipe` per architecture family,
one planner that maps a checkpoint onto a transformers model, checks everything, then copies.

A recipe names tensors the way the *full* model of the TF release names them (the class with
the release's heads, e.g. ``bert.encoder.layer.0...`` and ``cls.predictions...``); the planner
drops the base-model prefix when the target is the bare base model (``BertModel``).

Names: `Recipe.rename` is an ordered list of ``(regex, replacement)`` rules run by
`_torch.rename_key` (a sed script over the TF name; a None replacement says "not a weight"),
followed by ``/`` -> ``.``. Two markers in a rule's result go beyond one tensor -> one name:

    ``...{}...``        split: the tensor's first axis is one entry per index, name.format(i)
    ``name#k/n@axis``   join: the tensor is part k (0-based) of n equal parts along `axis`

Layouts: `Recipe.layouts` is a `to_torch` transpose spec (``(regex, layout)`` rules on the TF
name, first match wins); values come from `to_torch`, so they are views of the checkpoint's
copy-on-write mapping wherever the layout allows.

Order of work (never a half-loaded model): plan every name -> read views -> check every shape,
tie and required parameter -> only then copy into the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import CheckpointError
from .._naming import VARIABLE_VALUE_SUFFIX
from .._torch import DEFAULT_EXCLUDE, RenameRules, TransposeSpec, rename_key

if TYPE_CHECKING:
    from .._api import CheckpointReader

__all__ = ["PortError", "PortReport", "Recipe", "check_release", "plan_and_load", "release_recipe"]

Shape = tuple[int, ...]

_JOIN = re.compile(r"#(\d+)/(\d+)@(-?\d+)$")

OPTIMIZER_SKIP: tuple[str, ...] = (
    *DEFAULT_EXCLUDE,
    # BERT's AdamWeightDecayOptimizer names its slots as path components of the variable.
    r"(^|/)(adam_m|adam_v|AdamWeightDecayOptimizer|AdamWeightDecayOptimizer_\d+)(/|$)",
    r"/(Adafactor\w*|LAMB\w*)$",
    r"_slot_\w+$",  # mesh-tf Adafactor: <var>_slot_vc, _slot_vr, _slot_v
    r"(^|/)(learning_rate|loss_scale\w*|good_steps|current_loss_scale)$",
)
"""TF keys that are optimizer state or counters in every TF1 release: reported, never loaded."""


class PortError(CheckpointError, ValueError):
    """The checkpoint does not fit the model: another architecture, sizes that disagree with
    the config, a tensor the model lacks where one is required. Names the file and tensor."""


@dataclass(frozen=True)
class Recipe:
    """How the original TF release of one architecture family names and lays out its weights.

    Attributes:
        model_types: transformers ``config.model_type`` values this recipe serves.
        rename: ``(regex, replacement)`` rules, TF name -> full-model name with ``/`` (or
            a function doing the same, for numbering no regex can express).
        layouts: ``(regex, layout)`` rules on the TF name (see `_torch.to_torch`).
        signature: a regex that some key of every release of this family matches.
        foreign: ``(regex, what)``: a key matching the regex is in no release of this family
            but in `what`'s, whose other names fit (RoFormer's are BERT's less the position
            table): such a checkpoint is refused, naming the key.
        classes: ``(class name, regex or None)``, most specific first: `state_dict_for`
            builds the first class whose regex some TF key matches (None: always).
        fresh_heads: regexes of parameter names that the release does not hold (task heads
            added at fine-tuning); absent from the checkpoint, they are reported, not errors.
        skip: regexes of TF keys that are optimizer state or counters.
        infer_config: config keyword arguments from the checkpoint's ``{key: shape}``, for
            `tfckpt port` without ``--config`` (sizes only; enough to name and shape).
        rename_by_class: ``(class-name regex, rules)`` used instead of `rename` for the
            classes they match, first match wins.
        rename_by_release: ``(class-name regex, key regex, rules)``, checked before
            `rename_by_class`: used for the classes they match when some checkpoint key
            matches the key regex (a BertGeneration decoder takes the module's ``decoder``
            stack when it has one, else the stack it shares with the encoder).
        trim_rows: regexes of parameters whose checkpoint tensor may have more rows than the
            model (a vocabulary padded for the TPU mesh): the extra rows are dropped.
        prefer_average: a regex of TF keys whose ``<key>/ExponentialMovingAverage`` is
            loaded instead when the checkpoint has one (TF-slim evaluation weights).
        bind: for numbering only the model knows (Funnel's blocks): a function of the
            model's state names returning the rename function, used instead of `rename`.
        computed: ``(regex, function)``: parameters that are constants of the original
            model, not variables of its checkpoint (RoFormer's sinusoidal table, biases the
            release's layers do not have): the function of the parameter's shape returns
            its value. Filled (and written by `tfckpt port`) like loaded ones, reported in
            `PortReport.computed`; a checkpoint tensor for the same parameter wins.
        object_based: this recipe maps TF2 object-based checkpoints (keys ending in
            ``/.ATTRIBUTES/VARIABLE_VALUE``), which the TF1 recipes refuse.
        tf2: the recipe for TF2 object-based checkpoints of the same model (TF Model
            Garden's BERT encoder), used instead of this one when the checkpoint is one.
    """

    model_types: tuple[str, ...]
    rename: RenameRules | Callable[[str], str | None]
    signature: str
    classes: tuple[tuple[str, str | None], ...]
    layouts: TransposeSpec = None
    fresh_heads: tuple[str, ...] = ()
    skip: tuple[str, ...] = OPTIMIZER_SKIP
    infer_config: Callable[[Mapping[str, Shape]], dict[str, Any]] | None = None
    rename_by_class: tuple[tuple[str, RenameRules | Callable[[str], str | None]], ...] = ()
    rename_by_release: tuple[tuple[str, str, RenameRules | Callable[[str], str | None]], ...] = ()
    trim_rows: tuple[str, ...] = ()
    prefer_average: str | None = None
    bind: Callable[[Sequence[str]], Callable[[str], str | None]] | None = None
    computed: tuple[tuple[str, Callable[[Shape], np.ndarray[Any, Any]]], ...] = ()
    object_based: bool = False
    tf2: Recipe | None = None
    foreign: tuple[tuple[str, str], ...] = ()

    def rules_for(
        self, model_class: str, keys: Sequence[str] = ()
    ) -> RenameRules | Callable[[str], str | None]:
        """`rename`, or the rules of the first `rename_by_release` entry that fits
        `model_class` and the checkpoint's `keys`, or of the first `rename_by_class` entry
        whose regex matches `model_class` (ELECTRA's generator and discriminator share one
        checkpoint)."""
        for cls_pattern, key_pattern, rules in self.rename_by_release:
            if re.search(cls_pattern, model_class):
                rx = re.compile(key_pattern)
                if any(rx.search(k) for k in keys):
                    return rules
        for pattern, rules in self.rename_by_class:
            if re.search(pattern, model_class):
                return rules
        return self.rename

    def target(
        self,
        key: str,
        model_class: str = "",
        rules: RenameRules | Callable[[str], str | None] | None = None,
    ) -> str | None:
        """The full-model name (``.``-separated, markers kept) of TF key `key`, or None."""
        name = rename_key(key, rules if rules is not None else self.rules_for(model_class))
        if name is None:
            return None
        join = _JOIN.search(name)  # its "k/n" is not a path separator
        cut = join.start() if join else len(name)
        return name[:cut].replace("/", ".") + name[cut:]


@dataclass
class PortReport:
    """What `load_tf_checkpoint` did with each tensor and parameter.

    Attributes:
        path: the checkpoint.
        model_type, model_class: what it was loaded into.
        loaded: checkpoint key -> the parameter(s) it filled.
        tied: parameter -> the parameter it shares storage with (filled through that one).
        missing: model parameters the checkpoint did not provide (fresh task heads; with
            ``strict=False``, anything).
        unused: checkpoint key -> why it was not loaded (optimizer state, counter, a head the
            class lacks, ...).
        mismatched: ``(key, parameter, checkpoint shape, model shape)`` left out with
            ``strict=False``.
        untied: parameters the model tied but the checkpoint holds separately (T5 v1.1's
            LM head): given their own storage, as transformers' ``from_pretrained`` does.
        computed: parameters that no checkpoint of the release holds because the original
            model has them as constants (see `Recipe.computed`): filled with that value.
    """

    path: str
    model_type: str
    model_class: str
    loaded: dict[str, list[str]] = field(default_factory=dict)
    tied: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unused: dict[str, str] = field(default_factory=dict)
    mismatched: list[tuple[str, str, Shape, Shape]] = field(default_factory=list)
    untied: list[str] = field(default_factory=list)
    computed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        n = sum(len(v) for v in self.loaded.values())
        lines = [
            f"{self.model_class} ({self.model_type}) from {self.path}: {n} parameters from "
            f"{len(self.loaded)} checkpoint tensors, {len(self.tied)} tied, "
            f"{len(self.computed)} computed, {len(self.missing)} not in the checkpoint, "
            f"{len(self.unused)} checkpoint tensors unused"
        ]
        lines += [f"  computed (a constant of the architecture): {p}" for p in self.computed]
        lines += [f"  not in checkpoint: {p}" for p in self.missing]
        lines += [f"  untied (separate in the checkpoint): {p}" for p in self.untied]
        why: dict[str, int] = {}
        for reason in self.unused.values():
            why[reason] = why.get(reason, 0) + 1
        lines += [f"  unused: {c} x {r}" for r, c in sorted(why.items())]
        lines += [f"  shape mismatch: {k} {s} -> {p} {m}" for k, p, s, m in self.mismatched]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Target:
    key: str  # TF key
    name: str  # model parameter
    index: int | None = None  # split: row of the TF tensor
    part: tuple[int, int, int] | None = None  # join: (k, n, axis)


def _model_entries(model: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The model's loadable entries (floating-point state: parameters and running
    statistics) and its ties: alias name -> the first name of the same Parameter."""
    state = {k: v for k, v in model.state_dict(keep_vars=True).items() if v.is_floating_point()}
    first: dict[int, str] = {}
    tied: dict[str, str] = {}
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in first:
            tied[name] = first[id(p)]
        else:
            first[id(p)] = name
    return state, tied


def _resolve(name: str, state: Mapping[str, Any], prefix: str | None) -> str | None:
    if name in state:
        return name
    if prefix and name.startswith(prefix + "."):
        bare = name[len(prefix) + 1 :]
        if bare in state and not any(k.startswith(prefix + ".") for k in state):
            return bare
    return None


def plan_and_load(
    recipe: Recipe,
    reader: CheckpointReader,
    model: Any,
    *,
    strict: bool,
    copy_into_model: bool,
) -> tuple[PortReport, dict[str, Any]]:
    """Map `reader`'s tensors onto `model`, check, and (with `copy_into_model`) copy.

    Returns the report and, without `copy_into_model`, ``{parameter: tensor}`` for every
    parameter filled (tied aliases left out, as `save_pretrained` leaves them out), each in
    the model's dtype for that parameter.
    """
    import torch

    from .._torch import to_torch

    path = str(reader.prefix)
    cls = type(model).__name__
    report = PortReport(path, recipe.model_types[0], cls)
    state, tied = _model_entries(model)
    prefix = getattr(model, "base_model_prefix", None)
    keys = list(reader)
    recipe = release_recipe(recipe, keys)
    check_release(recipe, keys, path)
    skip = [re.compile(x) for x in recipe.skip]

    averaged = _averaged(recipe, keys)
    rules = recipe.bind(list(state)) if recipe.bind is not None else recipe.rules_for(cls, keys)
    targets: dict[str, list[_Target]] = {}
    for key in keys:
        if not reader.dtype_info(key).is_fixed_size:
            report.unused[key] = "not a numeric tensor"
            continue
        if key in averaged.values():
            report.unused[key] = "its moving average is loaded instead"
            continue
        if key not in averaged and any(rx.search(key) for rx in skip):
            report.unused[key] = "optimizer state or counter"
            continue
        name = recipe.target(averaged.get(key, key), cls, rules)
        if name is None:
            report.unused[key] = "not a weight of the model"
            continue
        found = _targets_of(key, name, reader.shape(key), state, prefix)
        if not found:
            report.unused[key] = f"a head or part {cls} lacks"
            continue
        targets[key] = found

    values = to_torch(
        reader,
        rename=lambda k: k if k in targets else None,
        transpose=recipe.layouts,
        exclude=(),
        strip_attributes=False,
    )

    # -- assemble per parameter (splits and joins), then check everything -------------------
    trim = [re.compile(x) for x in recipe.trim_rows]
    pieces: dict[str, list[tuple[_Target, Any]]] = {}
    for key, ts in targets.items():
        for t in ts:
            pieces.setdefault(t.name, []).append((t, values[key]))
    filled: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name, parts in pieces.items():
        value, origin = _assemble(torch, name, parts, path)
        want = tuple(state[name].shape)
        if (
            trim
            and any(rx.search(name) for rx in trim)
            and value.ndim == len(want)
            and value.shape[0] > want[0]
        ):
            value = value[: want[0]]  # padding rows of a mesh-tf vocabulary (a view)
        if tuple(value.shape) != want:
            if strict:
                raise PortError(
                    f"shape {tuple(value.shape)} (after layout) does not fit {cls}.{name} of "
                    f"shape {want}: the config's sizes disagree with the checkpoint",
                    path=path,
                    key=origin,
                )
            report.mismatched.append((origin, name, tuple(value.shape), want))
            continue
        filled[name] = value
        source[name] = origin

    # Constants of the architecture, for parameters no checkpoint tensor fills (directly or
    # through a tie), computed before ties are resolved so that their aliases (a computed
    # LM-head bias and its decoder.bias alias) are reported as tied to them.
    constants = [(re.compile(x), fn) for x, fn in recipe.computed]
    have = {tied.get(n, n) for n in filled}
    for name in state if constants else ():
        if name in filled or tied.get(name, name) in have:
            continue
        make = next((fn for rx, fn in constants if rx.search(name)), None)
        if make is not None:
            filled[name] = torch.from_numpy(make(tuple(state[name].shape)))
            report.computed.append(name)
            have.add(tied.get(name, name))

    # Tied parameters share one storage. When the checkpoint holds different tensors for
    # two members of a tie (T5 v1.1's separate LM head, while transformers 5 ties T5's
    # always), the model is untied there, as transformers' own from_pretrained does.
    groups: dict[str, list[str]] = {}
    for alias, root in tied.items():
        groups.setdefault(root, [root]).append(alias)
    untie: list[str] = []
    for members in groups.values():
        got = [n for n in members if n in filled]
        if got:
            untie += got[1:]
            report.tied.update({n: got[0] for n in members if n not in got})
    report.untied = untie

    fresh = [re.compile(x) for x in recipe.fresh_heads]
    for name in state:
        if name in filled or name in report.tied:
            continue
        if any(m[1] == name for m in report.mismatched):
            continue
        if strict and not any(rx.search(name) for rx in fresh):
            raise PortError(
                f"{cls} parameter {name!r} has no tensor in the checkpoint (is this a "
                f"{recipe.model_types[0]} release, and the class the one the release holds? "
                f"strict=False loads what there is)",
                path=path,
            )
        report.missing.append(name)
    for key, ts in targets.items():
        done = [t.name for t in ts if t.name in filled]
        if done:
            report.loaded[key] = done
        else:
            report.unused[key] = "shape mismatch"

    out: dict[str, Any] = {}
    if copy_into_model and untie:
        _untie(torch, model, untie)
        state, _ = _model_entries(model)
    with torch.no_grad():
        for name, value in filled.items():
            dest = state[name]
            if copy_into_model:
                dest.copy_(value)
            else:
                out[name] = value if value.dtype == dest.dtype else value.to(dest.dtype)
        if not copy_into_model:
            # BatchNorm's step counter has no TF counterpart; a model fresh from its
            # constructor holds 0, which is what save_pretrained would write.
            for name, buf in model.state_dict().items():
                if name.endswith(".num_batches_tracked"):
                    out[name] = torch.zeros(buf.shape, dtype=buf.dtype)
    return report, out


def _averaged(recipe: Recipe, keys: Sequence[str]) -> dict[str, str]:
    """``{average key: the key it stands for}`` for every preferred moving average."""
    if recipe.prefer_average is None:
        return {}
    rx = re.compile(recipe.prefer_average)
    have = set(keys)
    suffix = "/ExponentialMovingAverage"
    return {k + suffix: k for k in keys if rx.search(k) and k + suffix in have}


def _untie(torch: Any, model: Any, names: list[str]) -> None:
    """Give each parameter in `names` a storage of its own (and tell transformers, whose
    ``all_tied_weights_keys`` would tie it again on the next ``tie_weights()``)."""
    tied_keys = getattr(model, "all_tied_weights_keys", None)
    for name in names:
        owner, _, attr = name.rpartition(".")
        module = model.get_submodule(owner)
        old = getattr(module, attr)
        setattr(module, attr, torch.nn.Parameter(torch.empty_like(old), old.requires_grad))
        if isinstance(tied_keys, dict):
            tied_keys.pop(name, None)


def release_recipe(recipe: Recipe, keys: Sequence[str]) -> Recipe:
    """`recipe`, or its `Recipe.tf2` when the checkpoint is TF2 object-based."""
    if recipe.tf2 is not None and any(k.endswith(VARIABLE_VALUE_SUFFIX) for k in keys):
        return recipe.tf2
    return recipe


def check_release(recipe: Recipe, keys: Sequence[str], path: str) -> None:
    object_based = [k for k in keys if k.endswith(VARIABLE_VALUE_SUFFIX)]
    rx = re.compile(recipe.signature)
    if object_based and not (recipe.object_based and any(rx.search(k) for k in keys)):
        mapped = " (nor one of TF Model Garden's BERT encoders)" if recipe.object_based else ""
        raise PortError(
            f"this is a TF2 object-based checkpoint (keys end in {VARIABLE_VALUE_SUFFIX}, e.g. "
            f"a TF Model Garden or Keras model), not an original TF1 release of "
            f"{recipe.model_types[0]}{mapped}; port it with tfckpt_lite.to_torch(..., "
            f"model_paths=True, rename=[...]) (docs/port_to_pytorch.md)",
            path=path,
            key=object_based[0],
        )
    for pattern, what in recipe.foreign:
        hit = next((k for k in keys if re.search(pattern, k)), None)
        if hit is not None:
            raise PortError(
                f"a checkpoint of another architecture ({what}): no "
                f"{recipe.model_types[0]} release has this tensor",
                path=path,
                key=hit,
            )
    if not any(rx.search(k) for k in keys):
        sample = ", ".join(sorted(keys)[:4])
        raise PortError(
            f"no tensor name matches the {recipe.model_types[0]} release pattern "
            f"{recipe.signature!r}: a checkpoint of another architecture? (it holds {sample}"
            f"{', ...' if len(keys) > 4 else ''})",
            path=path,
        )


def _targets_of(
    key: str, name: str, shape: Shape, state: Mapping[str, Any], prefix: str | None
) -> list[_Target]:
    part = None
    m = _JOIN.search(name)
    if m:
        part = (int(m[1]), int(m[2]), int(m[3]))
        name = name[: m.start()]
    if "{}" in name:
        rows = shape[0] if shape else 0
        out = []
        for i in range(rows):
            r = _resolve(name.format(i), state, prefix)
            if r is not None:
                out.append(_Target(key, r, index=i, part=part))
        return out
    r = _resolve(name, state, prefix)
    return [] if r is None else [_Target(key, r, part=part)]


def _assemble(torch: Any, name: str, parts: list[tuple[_Target, Any]], path: str) -> Any:
    """One value per parameter: a single tensor (or a row of one), or the concatenation of
    every part of a join (a copy; joins are small projections)."""
    vals = [(t, v if t.index is None else v[t.index]) for t, v in parts]
    if len(vals) == 1 and vals[0][0].part is None:
        return vals[0][1], vals[0][0].key
    keys = ", ".join(t.key for t, _ in vals)
    spec = {t.part for t, _ in vals}
    if None in spec:
        raise PortError(f"several checkpoint tensors map to {name}: {keys}", path=path)
    n, axis = vals[0][0].part[1], vals[0][0].part[2]  # type: ignore[index]
    ordered = sorted(vals, key=lambda tv: tv[0].part[0])  # type: ignore[index]
    if [t.part[0] for t, _ in ordered] != list(range(n)):  # type: ignore[index]
        raise PortError(f"{name} needs {n} parts, the checkpoint has {keys}", path=path)
    return torch.cat([v for _, v in ordered], dim=axis), keys
