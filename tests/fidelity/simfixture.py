"""Simulators for the tests here, started by the Python package's own launcher
(`xenapi_rs.testing.Simulator`, which users' tests use too).

The binary is `$XENAPI_SIM` if set, else `target/release/xenapi-sim` (then `target/debug/`) of
this repository. Build it first: `cargo build --release -p xenapi-sim`.
"""

from __future__ import annotations

import os
import pathlib

import pytest
from xenapi_rs.testing import Simulator

REPO = pathlib.Path(__file__).resolve().parents[2]


def sim_binary() -> str:
    env = os.environ.get("XENAPI_SIM")
    if env:
        return env
    for profile in ("release", "debug"):
        p = REPO / "target" / profile / "xenapi-sim"
        if p.exists():
            return str(p)
    pytest.skip("no xenapi-sim binary: run `cargo build --release -p xenapi-sim` or set XENAPI_SIM")


def start_sim(dialect: str = "xapi", *extra: str) -> Simulator:
    """`xenapi-sim --dialect DIALECT --seed 7 EXTRA…` on a free port, by the package's launcher."""
    # The tests count guests: no templates (the command line's default has five).
    return Simulator("--dialect", dialect, "--seed", "7", "--templates", "0", *extra,
                     binary=sim_binary())


@pytest.fixture(params=["xapi", "xend"])
def sim(request):
    """A fresh simulator per test, in each dialect."""
    s = start_sim(request.param)
    yield s
    s.close()


@pytest.fixture
def xapi_sim():
    s = start_sim("xapi")
    yield s
    s.close()


@pytest.fixture
def xend_sim():
    s = start_sim("xend")
    yield s
    s.close()


@pytest.fixture
def pool_sim():
    s = start_sim("xapi", "--hosts", "2")
    yield s
    s.close()
