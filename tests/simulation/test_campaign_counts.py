"""A campaign of N examples runs and reports exactly N: examples hypothesis
abandons half-drawn (an overrun of its data buffer) are counted apart as
discarded, and the final re-run of a failing example is not a new example."""

from __future__ import annotations

import pytest

from examples.fuzz_website import WEBSITE
from examples.fuzz_website.buggy import GENERATED_NAMES
from runtime.simulation.campaign import run_campaign


@pytest.mark.parametrize("seed", [1, 4])
def test_a_campaign_reports_exactly_the_examples_asked_for(seed: int) -> None:
    # With these seeds hypothesis abandons at least one Website example half-drawn.
    result = run_campaign(WEBSITE, examples=5, seed_value=seed, failure_dir=None)
    assert result.ok
    assert result.progress.examples == 5
    assert result.progress.discarded >= 1


def test_a_failing_example_counts_once() -> None:
    result = run_campaign(
        GENERATED_NAMES, examples=10, seed_value=1, failure_dir=None, shrink=False
    )
    assert result.failure is not None
    assert result.progress.failing_examples == 1
