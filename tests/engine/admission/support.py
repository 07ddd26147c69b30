"""Helpers of the admission tests."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import Forbidden
from engine.store import Store


def refusal(store: Store, obj: Any) -> str:
    """The message of the Forbidden error creating `obj` raises."""
    with pytest.raises(Forbidden) as refused:
        store.create(obj)
    return str(refused.value)
