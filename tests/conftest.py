"""Shared test configuration: hypothesis profiles and the location of external corpora.

Profiles: `ci` (fixed seed via derandomize, used when CI=true), `dev` (the default, random
seeds, for exploring locally) and `deep` (HYPOTHESIS_PROFILE=deep: 2,000 examples for tests
that do not set their own count; the TF round trips and the decoder fuzzers take theirs from
TFCKPT_TF_EXAMPLES and TFCKPT_FUZZ_EXAMPLES).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

REPO = Path(__file__).resolve().parent.parent


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
