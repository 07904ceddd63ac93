"""Recipes that port original TF releases into transformers models, one module per family.

Each family module (``bert.py``, ``gpt2.py``, ...) defines ``RECIPES: tuple[Recipe, ...]``;
`recipe_for` finds them by ``config.model_type``. Modules are discovered, not listed, so a
new family is one new file. Everything here is NumPy/regex only: torch and transformers are
imported by `tfckpt_lite.transformers` when a port runs.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._engine import PortError, PortReport, Recipe

__all__ = ["PortError", "PortReport", "Recipe", "recipe_for", "recipes"]

_REGISTRY: dict[str, Recipe] = {}


def recipes() -> dict[str, Recipe]:
    """Every recipe by model_type (importing the family modules on first use)."""
    if not _REGISTRY:
        found: dict[str, Recipe] = {}
        for info in pkgutil.iter_modules(__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{__name__}.{info.name}")
            for recipe in getattr(module, "RECIPES", ()):
                for model_type in recipe.model_types:
                    if model_type in found:
                        raise RuntimeError(f"two recipes for model_type {model_type!r}")
                    found[model_type] = recipe
        _REGISTRY.update(found)
    return dict(_REGISTRY)


def recipe_for(model_type: str) -> Recipe:
    """The recipe for `model_type`; ValueError listing the supported ones otherwise."""
    table = recipes()
    recipe = table.get(model_type)
    if recipe is None:
        raise ValueError(
            f"no TF checkpoint recipe for model_type {model_type!r}; supported: "
            f"{', '.join(sorted(table))}"
        )
    return recipe
