"""Shared fixtures: the project's params and instrument, read once."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)


@pytest.fixture(scope="session")
def params():
    from pipeline.config import load_params

    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def instrument(params):
    from pipeline.instrument import load_instrument

    return load_instrument(ROOT / params["instrument"])
