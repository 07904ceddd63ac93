"""`tfckpt_lite.transformers` against the oracle: transformers 4.57's own
``load_tf_weights_in_<model>`` under real TensorFlow 2.21, in a separate venv named by
``TFCKPT_ORACLE_PYTHON`` (.ci/run creates it; without it these tests skip).

For every case of tests/port_cases, TF writes a random checkpoint with the release's names,
shapes and dtypes, and 4.57 loads it. Here transformers 5 loads the same file with
`load_tf_checkpoint` (strict) and `state_dict_for`: every parameter the oracle filled must be
bit-identical, nothing may be missing, and where the case has a forward pass, outputs agree
within 1e-5.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.port_cases import Case, all_cases

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
if int(transformers.__version__.split(".")[0]) < 5:
    pytest.skip("these tests target transformers 5", allow_module_level=True)

from safetensors.torch import load_file  # noqa: E402

from tfckpt_lite._cli import main  # noqa: E402
from tfckpt_lite.transformers import load_tf_checkpoint, state_dict_for  # noqa: E402

CASES = all_cases()
ORACLE = Path(__file__).with_name("_port_oracle.py")


@pytest.fixture(scope="session")
def oracle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = os.environ.get("TFCKPT_ORACLE_PYTHON")
    if not python:
        pytest.skip("TFCKPT_ORACLE_PYTHON (a venv with transformers 4.57 + TF 2.21) not set")
    # TFCKPT_ORACLE_CACHE: a directory kept between runs (local iteration); only cases
    # without a result there are computed.
    cache = os.environ.get("TFCKPT_ORACLE_CACHE")
    out = Path(cache) if cache else tmp_path_factory.mktemp("oracle")
    todo = [c for c in CASES if not (out / c / "oracle.safetensors").exists()]
    if not todo:
        return out
    proc = subprocess.run(
        [python, str(ORACLE), str(out), *todo],
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PYTHONPATH": ""},
    )
    if proc.returncode != 0:
        pytest.fail(f"oracle failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return out


def _bits(t: Any) -> Any:
    t = t.detach().contiguous()
    return t.view({2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()])


def _model(case: Case) -> Any:
    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    return getattr(transformers, case.target_class)(config).eval()


def _oracle(oracle_dir: Path, name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    saved = load_file(str(oracle_dir / name / "oracle.safetensors"))
    params = {k: v for k, v in saved.items() if not k.startswith("__")}
    inputs = {k[len("__in__/") :]: v for k, v in saved.items() if k.startswith("__in__/")}
    outputs = {k[len("__out__/") :]: v for k, v in saved.items() if k.startswith("__out__/")}
    return params, inputs, outputs


@pytest.mark.parametrize("name", sorted(CASES))
def test_bit_identical_to_oracle(name: str, oracle_dir: Path) -> None:
    case = CASES[name]
    prefix = oracle_dir / name / case.fixture
    expected, inputs, outputs = _oracle(oracle_dir, name)
    assert expected, "the oracle loaded nothing"

    model = _model(case)
    report = load_tf_checkpoint(model, prefix)  # strict
    assert not report.missing, report.missing
    state = model.state_dict()
    for old, want in expected.items():
        new = case.v5_name(old)
        assert new in state, f"{new} (4.57: {old}) not in {case.target_class}"
        got = state[new]
        assert got.dtype == want.dtype and got.shape == want.shape, new
        assert torch.equal(_bits(got), _bits(want)), f"{new} differs from the oracle"
    # Everything the model holds that 4.57 filled, this filled too (and no more parameters
    # than the checkpoint provides: tied aliases come through their root).
    loaded = {p for ps in report.loaded.values() for p in ps} | set(report.tied)
    loaded |= set(report.computed)  # constants of the architecture the oracle kept
    assert {case.v5_name(k) for k in expected} <= loaded

    # The file path: the same values, as from_pretrained would take them.
    flat = state_dict_for(prefix, case.model_type, case.config, model_class=case.target_class)
    for key, value in flat.items():
        assert torch.equal(_bits(value), _bits(state[key])), key
    assert set(flat) | set(report.tied) >= set(loaded)
    # What we hand over is the caller's: writable, and not the file.
    first = next(iter(flat.values()))
    first.add_(1.0)

    if case.outputs:
        with torch.no_grad():
            result = model(**inputs)
        for out_name, want in outputs.items():
            got = getattr(result, out_name)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5, msg=out_name)


def test_oracle_covers_every_case(oracle_dir: Path) -> None:
    """The harness itself: each case produced a checkpoint and an oracle file, and the
    oracle filled at least one entry per checkpoint variable that is a weight."""
    for name, case in CASES.items():
        params, _, outputs = _oracle(oracle_dir, name)
        assert params, name
        assert set(outputs) == set(case.outputs), name


@pytest.mark.parametrize("name", sorted(CASES))
def test_cli_port_loads_in_from_pretrained(name: str, oracle_dir: Path, tmp_path: Path) -> None:
    """`tfckpt port` with the release's config: transformers 5 ``from_pretrained`` takes the
    file with no missing, unexpected or mismatched weight, and computes what the oracle did."""
    case = CASES[name]
    cfg = tmp_path / "release_config.json"
    cfg.write_text(json.dumps({"model_type": case.model_type, **case.config}))
    out = tmp_path / "hf" / "model.safetensors"
    argv = ["port", str(oracle_dir / name / case.fixture), str(out), "--arch", case.model_type,
            "--config", str(cfg), "--class", case.target_class, "-q"]  # fmt: skip
    assert main(argv) == 0
    cls = getattr(transformers, case.target_class)
    model, info = cls.from_pretrained(tmp_path / "hf", output_loading_info=True)
    assert not info["missing_keys"], info
    assert not info["unexpected_keys"], info
    assert not info["mismatched_keys"], info
    expected, inputs, outputs = _oracle(oracle_dir, name)
    state = model.state_dict()
    for old, want in expected.items():
        assert torch.equal(_bits(state[case.v5_name(old)]), _bits(want)), old
    if case.outputs:
        with torch.no_grad():
            result = model.eval()(**inputs)
        for out_name, want in outputs.items():
            torch.testing.assert_close(
                getattr(result, out_name), want, rtol=0, atol=1e-5, msg=out_name
            )


@pytest.mark.parametrize("cls", ["T5Model", "T5EncoderModel"])
def test_t5_bare_classes_take_their_part(cls: str, oracle_dir: Path) -> None:
    """The oracle's loader walks only T5ForConditionalGeneration; the bare classes get the
    same values for the parameters they have, the rest is reported unused."""
    case = CASES["t5"]
    expected, _, _ = _oracle(oracle_dir, "t5")
    config = transformers.AutoConfig.for_model("t5", **case.config)
    model = getattr(transformers, cls)(config)
    report = load_tf_checkpoint(model, oracle_dir / "t5" / "model.ckpt")
    assert report.missing == []
    state = model.state_dict()
    assert set(state) < set(expected) | set(report.tied)
    for key, value in state.items():
        if key in expected:
            assert torch.equal(_bits(value), _bits(expected[key])), key
    slots = [k for k in report.unused if "_slot_" in k]
    assert slots and all(report.unused[k] == "optimizer state or counter" for k in slots)
    if cls == "T5EncoderModel":
        assert (
            report.unused["decoder/final_layer_norm/scale"] == "a head or part T5EncoderModel lacks"
        )


def test_decision_transformer_full_model_takes_the_backbone(oracle_dir: Path) -> None:
    case = CASES["decision_transformer"]
    expected, _, _ = _oracle(oracle_dir, "decision_transformer")
    config = transformers.AutoConfig.for_model(case.model_type, **case.config)
    model = transformers.DecisionTransformerModel(config)
    report = load_tf_checkpoint(model, oracle_dir / "decision_transformer" / "model.ckpt")
    assert report.missing and all(p.startswith(("embed_", "predict_")) for p in report.missing)
    state = model.state_dict()
    for key, want in expected.items():
        assert torch.equal(_bits(state["encoder." + key]), _bits(want)), key
