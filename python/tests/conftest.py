"""Shared fixtures of the elmq Python tests (run against the installed package)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cli_path() -> str:
    """The elmq command-line tool, from $ELMQ_CLI (or `elmq` on PATH); skips if absent."""
    path = os.environ.get("ELMQ_CLI") or shutil.which("elmq")
    if not path or not os.access(path, os.X_OK):
        pytest.skip("the elmq CLI was not found: set ELMQ_CLI to a built `elmq` executable "
                    "(e.g. build/<dir>/cli/elmq) to run the C++ <-> Python file tests")
    return path


@pytest.fixture(scope="session")
def blobs():
    """A small, seeded 3-class problem: X float32 (300, 8), y int64."""
    rng = np.random.RandomState(0)
    centers = rng.randn(3, 8) * 3.0
    y = np.repeat(np.arange(3), 100)
    X = (centers[y] + rng.randn(300, 8)).astype(np.float32)
    perm = rng.permutation(300)
    return X[perm].copy(), y[perm].copy()


@pytest.fixture(scope="session")
def regression_data():
    """A small, seeded 2-output regression problem: X float32 (400, 6), Y float64 (400, 2)."""
    rng = np.random.RandomState(1)
    X = rng.uniform(-2, 2, size=(400, 6)).astype(np.float32)
    Y = np.column_stack([np.sin(X[:, 0]) + X[:, 1] ** 2, X[:, 2] * X[:, 3]])
    return X, Y
