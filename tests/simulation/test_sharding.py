"""Sharded campaigns (`kubeloop fuzz --workers N` / `--cluster`): the examples,
counts and failures depend on the seed and the example count only, never on
how many processes run the shards; a dying worker loses only its shards,
which run again."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from examples.fuzz_website import WEBSITE
from examples.fuzz_website.buggy import GENERATED_NAMES
from runtime.cli import main
from runtime.simulation.sharding import (
    MAX_ATTEMPTS,
    SHARD_EXAMPLES,
    ShardedCampaign,
    derive_seed,
    plan_shards,
    run_sharded_campaign,
    worker_context,
)
from tests.simulation.crashing_target import CRASH_ONCE


def test_shards_cover_the_examples_with_seeds_of_the_campaign_seed() -> None:
    shards = plan_shards(2 * SHARD_EXAMPLES + 3, 7, target_ref="m:a")
    assert [s.examples for s in shards] == [SHARD_EXAMPLES, SHARD_EXAMPLES, 3]
    assert [s.index for s in shards] == [0, 1, 2]
    assert [s.seed for s in shards] == [derive_seed(7, i) for i in range(3)]
    assert len({s.seed for s in shards}) == 3
    assert derive_seed(7, 0) != derive_seed(8, 0)
    with pytest.raises(ValueError, match="at least 1 example"):
        plan_shards(0, 7, target_ref="m:a")


def test_two_workers_run_exactly_the_campaign_one_worker_runs(tmp_path: Path) -> None:
    examples = SHARD_EXAMPLES + 4
    one = run_sharded_campaign(WEBSITE, examples=examples, seed_value=5, failure_dir=None)
    two = run_sharded_campaign(
        WEBSITE, examples=examples, seed_value=5, workers=2, failure_dir=None
    )
    assert one.ok and two.ok
    assert one.examples == two.examples == examples
    assert two.comparable() == one.comparable()
    assert one.faults == two.faults and one.writes == two.writes > 0


@contextmanager
def _another_thread() -> Iterator[None]:
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@pytest.mark.skipif(sys.platform == "darwin", reason="workers are always spawned on macOS")
def test_workers_are_forked_only_from_a_process_with_one_thread() -> None:
    # A fork copies only the forking thread: a lock another thread holds
    # would stay held for ever in the worker. (A fresh process: this one may
    # run threads other tests left.)
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "from runtime.simulation.sharding import worker_context; "
            "print(worker_context().get_start_method())",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert fresh.stdout.strip() == "fork"
    with _another_thread():
        assert worker_context().get_start_method() == "spawn"


def test_spawned_workers_run_exactly_the_campaign_forked_ones_run() -> None:
    examples = SHARD_EXAMPLES + 2
    forked = run_sharded_campaign(
        WEBSITE, examples=examples, seed_value=6, workers=2, failure_dir=None
    )
    with _another_thread():
        spawned = run_sharded_campaign(
            WEBSITE, examples=examples, seed_value=6, workers=2, failure_dir=None
        )
    assert spawned.ok and spawned.examples == examples
    assert spawned.comparable() == forked.comparable()


def test_a_planted_bug_is_found_alike_with_any_number_of_workers(tmp_path: Path) -> None:
    def hunt(workers: int) -> ShardedCampaign:
        return run_sharded_campaign(
            GENERATED_NAMES,
            examples=3 * SHARD_EXAMPLES,
            seed_value=1,
            workers=workers,
            failure_dir=tmp_path,
            shrink=False,
        )

    one = hunt(1)
    assert one.failure is not None and one.failure.scenario is not None
    scenario = Path(one.failure.scenario).read_text()
    two = hunt(2)
    assert Path(one.failure.scenario).read_text() == scenario, "the same scenario file"
    assert one.failure is not None and "controls 2 ReplicaSets" in one.failure.message
    assert two.failure is not None and two.failure.message == one.failure.message
    assert two.failure.seed == one.failure.seed
    assert two.comparable() == one.comparable()
    # The campaign stops at its first failing shard, as an unsharded one stops at its failure.
    assert one.results[-1].failure is not None
    assert all(r.failure is None for r in one.results[:-1])


def test_a_dying_worker_loses_only_its_shards_which_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "crashed"
    monkeypatch.setenv("KUBELOOP_TEST_CRASH_MARKER", str(marker))
    crashed = run_sharded_campaign(
        CRASH_ONCE, examples=SHARD_EXAMPLES + 2, seed_value=3, workers=2, failure_dir=None
    )
    assert marker.exists(), "a worker died"
    assert crashed.ok, crashed.error
    assert max(r.attempts for r in crashed.results) == 2
    monkeypatch.delenv("KUBELOOP_TEST_CRASH_MARKER")
    calm = run_sharded_campaign(
        CRASH_ONCE, examples=SHARD_EXAMPLES + 2, seed_value=3, failure_dir=None
    )
    assert crashed.comparable() == calm.comparable()


def test_a_shard_whose_worker_always_dies_is_reported_not_retried_for_ever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBELOOP_TEST_CRASH_MARKER", "always")
    doomed = run_sharded_campaign(
        CRASH_ONCE, examples=2 * SHARD_EXAMPLES, seed_value=3, workers=2, failure_dir=None
    )
    assert not doomed.ok and doomed.failure is None
    assert doomed.error == (f"shard 0: its worker process died in each of {MAX_ATTEMPTS} attempts")
    assert [r.index for r in doomed.results] == [0]


def _fuzz(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fuzz", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_workers_summary_equals_one_workers_but_for_timing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = (
        "--target",
        "examples.fuzz_website:WEBSITE",
        "--examples",
        "12",
        "--seed",
        "9",
        "--out",
        str(tmp_path),
        "--json",
    )
    code1, out1, _ = _fuzz(capsys, *common, "--workers", "1")
    code2, out2, _ = _fuzz(capsys, *common, "--workers", "2")
    assert code1 == code2 == 0
    one, two = json.loads(out1), json.loads(out2)
    for timing in ("wall_seconds", "examples_per_second"):
        one.pop(timing), two.pop(timing)
    assert one == two
    assert one["examples"] == 12 and one["seed"] == 9 and one["ok"] is True


def test_cli_draws_and_reports_a_seed_when_none_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _fuzz(
        capsys,
        "--target",
        "examples.fuzz_website:WEBSITE",
        "--examples",
        "1",
        "--workers",
        "1",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert code == 0
    assert isinstance(json.loads(out)["seed"], int)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--workers", "0"), "--workers must be at least 1, got 0"),
        (("--workers", "2", "--cluster", "tcp://127.0.0.1:1"), "exclude each other"),
        (("--cluster", "tcp://127.0.0.1:1"), "cannot reach the scheduler"),
    ],
    ids=["zero-workers", "both", "unreachable"],
)
def test_cli_bad_worker_options_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    code, out, err = _fuzz(capsys, "--examples", "1", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and says in err


def test_a_dask_cluster_runs_the_same_campaign(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    examples = SHARD_EXAMPLES + 2
    local = run_sharded_campaign(WEBSITE, examples=examples, seed_value=11, failure_dir=None)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = run_sharded_campaign(
            WEBSITE,
            examples=examples,
            seed_value=11,
            executor=client.get_executor(),
            failure_dir=None,
        )
    assert remote.ok and remote.comparable() == local.comparable()


def test_a_target_without_ref_runs_only_in_process() -> None:
    import dataclasses

    anonymous = dataclasses.replace(WEBSITE, ref=None)
    with pytest.raises(ValueError, match="has no ref"):
        run_sharded_campaign(anonymous, examples=1, seed_value=1, workers=2, failure_dir=None)


def test_each_shard_carries_the_campaigns_log_level() -> None:
    # A spawned worker does not inherit the caller's logging set-up: the level
    # travels with each shard (`kubeloop fuzz --log-level`, critical by default)
    # and `run_shard` applies it in the worker.
    shards = plan_shards(25, 1, target_ref="m:a", log_level="critical")
    assert {s.log_level for s in shards} == {"critical"}
    assert {s.log_level for s in plan_shards(5, 1, target_ref="m:a")} == {None}
