"""`tfckpt port SRC DST.safetensors --arch bert [--config config.json]`: an original TF
release -> a safetensors file (plus config.json) that transformers 5 ``from_pretrained``
loads with no missing or unexpected weights.

Registered by `tfckpt_lite._cli`; argument parsing and output live here. torch and
transformers are imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", metavar="SRC", help="the TF checkpoint (prefix, .index or directory)")
    p.add_argument("dst", metavar="DST", help="the .safetensors file to write")
    p.add_argument(
        "--arch",
        required=True,
        metavar="MODEL_TYPE",
        help="transformers model_type of the release: bert, gpt2, t5, ... "
        "(python -c 'import tfckpt_lite.transformers as t; print(t.supported_model_types())')",
    )
    p.add_argument(
        "--config",
        metavar="JSON",
        help="the model's config.json (or the release's, e.g. bert_config.json); written "
        "next to DST as config.json. Without it, sizes come from the checkpoint's shapes "
        "and no config.json is written",
    )
    p.add_argument(
        "--class",
        dest="model_class",
        metavar="NAME",
        help="transformers class whose names to use (default: the one with the heads the "
        "checkpoint holds, e.g. BertForPreTraining)",
    )
    p.add_argument(
        "--no-strict",
        dest="strict",
        action="store_false",
        help="write what fits instead of failing on a missing or mis-shaped tensor",
    )


def run(args: argparse.Namespace, progress: Callable[[int, int, str], None]) -> str:
    """Port, write, and return the summary `tfckpt` prints (``warning:`` lines go to
    stderr)."""
    from .._convert import write_safetensors
    from .._storage import sibling
    from ..transformers import port_state

    state, report, cls, config = port_state(
        args.src, args.arch, args.config, args.model_class, args.strict
    )
    write_safetensors(
        args.dst, ((k, _to_numpy(v)) for k, v in sorted(state.items())), progress=progress
    )
    wrote = [args.dst]
    if args.config:
        fields = config.to_diff_dict()
        fields["architectures"] = [cls]
        path = sibling(args.dst, "config.json")
        _write_json(path, fields)
        wrote.append(path)
    lines = [str(report), f"wrote {' and '.join(wrote)} ({cls}, {len(state)} tensors)"]
    if not args.config:
        lines.append(
            "warning: no --config given, so no config.json: from_pretrained needs the "
            "release's (head counts and activations are not in the checkpoint)"
        )
    return "\n".join(lines)


def _to_numpy(t: Any) -> Any:
    """A torch tensor's values as a NumPy array without a copy where possible (bfloat16
    and float8 through their bits, as ml_dtypes arrays)."""
    import torch

    t = t.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float8_e4m3fn, torch.float8_e5m2):
        import ml_dtypes

        bits = t.view(torch.int16 if t.element_size() == 2 else torch.uint8).numpy()
        return bits.view(getattr(ml_dtypes, str(t.dtype).removeprefix("torch.")))
    return t.numpy()


def _write_json(path: str, fields: dict[str, Any]) -> None:
    from .._storage import atomic_write

    atomic_write(path, (json.dumps(fields, indent=2, sort_keys=True) + "\n").encode())
