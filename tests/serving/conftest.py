"""The in-process TF Serving stand-in (a test fixture, not TF Serving) over a real version."""

import pytest

from tests.serving.standin import StandIn


@pytest.fixture(scope="session")
def standin(published):
    server = StandIn({1: published[1]}, labels={"stable": 1})
    yield server
    server.close()


@pytest.fixture
def fresh_standin(standin):
    """The shared stand-in with faults cleared before and after a test."""
    standin.inject()
    yield standin
    standin.inject()
