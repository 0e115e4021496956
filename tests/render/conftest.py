"""Fixtures for the document renderers: each example case with its assessment JSON."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import rplcare

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = (
    "aps-three-losses",
    "bleeding-early-pregnancy",
    "carrier-frozen-transfer",
    "thyroid-two-losses",
)


def _load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    path = EXAMPLES / f"{name}.yaml"
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    return rplcare.assess(rplcare.load_case(path)).to_dict(), case


_CACHE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def example(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(assessment dict, case dict) of an example; a deep copy, so tests may modify it."""
    if name not in _CACHE:
        _CACHE[name] = _load(name)
    return copy.deepcopy(_CACHE[name])


@pytest.fixture(params=NAMES)
def any_example(request: pytest.FixtureRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    return example(request.param)


@pytest.fixture
def bleeding() -> tuple[dict[str, Any], dict[str, Any]]:
    return example("bleeding-early-pregnancy")


@pytest.fixture
def aps() -> tuple[dict[str, Any], dict[str, Any]]:
    return example("aps-three-losses")


@pytest.fixture
def carrier() -> tuple[dict[str, Any], dict[str, Any]]:
    return example("carrier-frozen-transfer")


@pytest.fixture
def thyroid() -> tuple[dict[str, Any], dict[str, Any]]:
    return example("thyroid-two-losses")
