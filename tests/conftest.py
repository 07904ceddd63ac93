"""Shared test configuration: how deep the suite runs, hypothesis profiles, the robustness
report, and the location of external corpora.

Depth. By default the suite is *quick* (the README's command, a few minutes on two cores):
every test runs, but the sweep, fuzz and crash families run a small fixed-seed portion of
their budget, and tests marked `slow` are deselected. `TFCKPT_DEEP=1` (what `.ci/run` sets)
runs the `slow` tests too and gives every family its full CI budget; `-m slow` (or any `-m`
that names `slow`) selects slow tests at the current depth. Per-family overrides, for running
longer than CI: TFCKPT_FUZZ_EXAMPLES, TFCKPT_SWEEP_SCALE, TFCKPT_CRASH_TRIALS,
TFCKPT_TF_EXAMPLES (see fuzz/README.md).

Hypothesis profiles: `default` (derandomized: the same examples on every run, quick or
deep), `dev` (HYPOTHESIS_PROFILE=dev: fresh random seeds, for exploring) and `explore`
(HYPOTHESIS_PROFILE=explore: random seeds and 2,000 examples for tests without their own
count).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

DEEP = os.environ.get("TFCKPT_DEEP", "").strip() not in ("", "0")


N = TypeVar("N", int, float)


def budget(deep: N, quick: N, env: str | None = None) -> N:
    """How many examples, trials or positions a family runs: `env` if that variable is set,
    else `deep` under TFCKPT_DEEP=1 (the CI budget), else `quick`."""
    if env and os.environ.get(env):
        return type(deep)(os.environ[env])
    return deep if DEEP else quick


_SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "default",
    derandomize=True,
    database=None,  # derandomized runs replay nothing: the same examples every time
    deadline=None,
    print_blob=True,
    max_examples=budget(100, 50),
    suppress_health_check=_SLOW_CHECKS,
)
settings.register_profile("ci", settings.get_profile("default"))  # the old name, same thing
settings.register_profile(
    "dev", deadline=None, max_examples=budget(100, 50), suppress_health_check=_SLOW_CHECKS
)
settings.register_profile(
    "explore", deadline=None, max_examples=2000, suppress_health_check=_SLOW_CHECKS
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_report_header(config: pytest.Config) -> str:
    if DEEP:
        return "tfckpt-lite: deep run (TFCKPT_DEEP=1): slow tests and full CI budgets"
    return "tfckpt-lite: quick run (TFCKPT_DEEP=1 runs the slow tests and full CI budgets)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Quick runs deselect `slow` tests, unless the -m expression names `slow` itself."""
    if DEEP or "slow" in (config.option.markexpr or ""):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if item.get_closest_marker("slow") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- robustness report ----------------------------------------------------------------------
# The sweep and crash tests count what they saw (exact, error, stale temps...); the totals are
# the numbers in docs/robustness.md. They print after the run, with -v or in deep runs.

REPORT: dict[str, Counter[str]] = {}


def report(section: str, counts: Counter[str] | dict[str, int]) -> None:
    """Add counts to a section of the end-of-run robustness report."""
    REPORT.setdefault(section, Counter()).update(counts)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if not REPORT or not (DEEP or config.get_verbosity() > 0):
        return
    terminalreporter.write_sep("=", "robustness totals (docs/robustness.md)")
    for section, counts in sorted(REPORT.items()):
        terminalreporter.write_line(f"{section}:")
        for k, v in sorted(counts.items()):
            terminalreporter.write_line(f"  {k}: {v}")


def realworld_dir() -> Path | None:
    """The shared real-world checkpoint corpus, read in place (never copied into the repo)."""
    candidates = [
        os.environ.get("TFCKPT_REALWORLD"),
        str(REPO.parent / "shared" / "real-world-checkpoints"),
        "/work/shared/real-world-checkpoints",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None
