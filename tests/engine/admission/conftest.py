"""Shared fixtures of the admission tests: a bare store on a virtual clock."""

from __future__ import annotations

import pytest

from engine.clock import VirtualClock
from engine.store import Store


@pytest.fixture
def store() -> Store:
    return Store(clock=VirtualClock())
