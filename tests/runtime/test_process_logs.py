"""Container logs of the process runtime: CRI records, streaming reads, rotation.

The format and reader are tested on files written directly; rotation and
following with real pipes (written by the test, or by a real process), with
condition waits bounded on the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.api.core import Pod
from engine.clock import RealClock
from engine.errors import NotFound
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.kubelet import KubeletConfig
from runtime.runtimes import crilog
from runtime.runtimes.process import ProcessRuntime
from runtime.runtimes.process_logs import ContainerLog
from runtime.runtimes.protocol import ContainerConfig, ContainerRuntimeError, PodSandboxConfig

WAIT = 10.0
STAMP = crilog.timestamp(datetime(2026, 1, 1, tzinfo=UTC))
LINE_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\n")


async def eventually(condition: Callable[[], object]) -> None:
    """Wait (bounded) until `condition()` holds; real pipes and processes need
    real time, so this polls."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def read_all(path: Path, tail: int | None = None) -> list[str]:
    with path.open("rb") as file:
        end = file.seek(0, os.SEEK_END)
        assembler = crilog.Assembler()
        if tail is not None:
            return crilog.tail(file, tail, end, assembler)
        return [
            line
            for record in crilog.forward(file, 0, end)
            if (line := assembler.feed(record)) is not None
        ]


async def collect(lines: object) -> list[str]:
    return [line async for line in lines]  # type: ignore[attr-defined]


class TestFormat:
    def test_a_record_per_line_with_time_stream_and_tag(self) -> None:
        data = crilog.records(STAMP, b"stderr", [b"hello", b""])
        assert data == (
            b"2026-01-01T00:00:00.000000Z stderr F hello\n2026-01-01T00:00:00.000000Z stderr F \n"
        )

    def test_long_lines_are_split_into_pieces(self, tmp_path: Path) -> None:
        long = b"x" * (2 * crilog.MAX_RECORD_CONTENT + 5)
        data = crilog.records(STAMP, b"stdout", [long, b"short"])
        assert data.count(b" P ") == 2 and data.count(b" F ") == 2
        path = tmp_path / "0.log"
        path.write_bytes(data)
        assert read_all(path) == [long.decode(), "short"]

    def test_undecodable_bytes_are_replaced_and_foreign_lines_kept(self, tmp_path: Path) -> None:
        path = tmp_path / "0.log"
        path.write_bytes(crilog.records(STAMP, b"stdout", [b"caf\xc3\xa9 \xff"]) + b"plain\n")
        assert read_all(path) == ["café \ufffd", "plain"]

    @given(
        lines=st.lists(
            st.tuples(
                st.sampled_from([b"stdout", b"stderr"]),
                st.text(LINE_CHARACTERS, max_size=12),
                st.integers(min_value=1, max_value=3),  # pieces
            ),
            max_size=25,
        ),
        order=st.randoms(use_true_random=False),
        count=st.none() | st.integers(min_value=1, max_value=30),
        block=st.integers(min_value=1, max_value=64),
    )
    def test_lines_and_tails_whatever_the_interleaving_and_block_size(
        self,
        lines: list[tuple[bytes, str, int]],
        order: random.Random,
        count: int | None,
        block: int,
    ) -> None:
        """Lines of two streams, some in pieces, with the pieces of one stream's
        line interleaved with the other stream's records: whole lines come back,
        in the order their last record was written; a tail is the last lines."""
        queues: dict[bytes, list[bytes]] = {b"stdout": [], b"stderr": []}
        for stream, text, pieces in lines:
            data = text.encode()
            cuts = [len(data) * i // pieces for i in range(pieces + 1)]
            parts = [data[cuts[i] : cuts[i + 1]] for i in range(pieces)]
            queues[stream] += [STAMP + b" " + stream + b" P " + p + b"\n" for p in parts[:-1]]
            queues[stream].append(STAMP + b" " + stream + b" F " + parts[-1] + b"\n")
        written: list[bytes] = []
        expected: list[str] = []
        while any(queues.values()):
            stream = order.choice([s for s, q in queues.items() if q])
            record = queues[stream].pop(0)
            written.append(record)
        # Expected: per stream, pieces joined; lines ordered by their F record.
        pending: dict[bytes, bytes] = {}
        for record in written:
            _, stream, tag, content = record[:-1].split(b" ", 3)
            pending[stream] = pending.get(stream, b"") + content
            if tag == b"F":
                expected.append(pending.pop(stream).decode())
        with tempfile.TemporaryDirectory() as directory, patch.object(crilog, "BLOCK", block):
            path = Path(directory) / "0.log"
            path.write_bytes(b"".join(written))
            assert read_all(path) == expected
            if count is not None:
                assert read_all(path, count) == expected[-count:]


def test_a_full_read_streams_and_does_not_hold_the_log(tmp_path: Path) -> None:
    """11 MB of log read line by line: the reader's peak allocation stays a small
    fraction of that (it reads a block at a time)."""
    path = tmp_path / "0.log"
    line = b"x" * 90
    with path.open("wb") as file:
        for _ in range(100):
            file.write(crilog.records(STAMP, b"stdout", [line] * 900))
    size = path.stat().st_size
    assert size > 10_000_000
    log = ContainerLog(path, RealClock())
    log.finish()

    async def count(tail: int | None) -> int:
        seen = 0
        async for _ in log.read(tail):
            seen += 1
        return seen

    for tail, lines in ((None, 90_000), (10, 10)):
        tracemalloc.start()
        try:
            assert asyncio.run(count(tail)) == lines
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < size // 20, (tail, peak)  # the whole file would be 20 times that


async def write_lines(write_end: int, lines: list[bytes]) -> None:
    os.write(write_end, b"".join(line + b"\n" for line in lines))


async def test_rotation_keeps_at_most_max_files_of_bounded_size(tmp_path: Path) -> None:
    log = ContainerLog(tmp_path / "1.log", RealClock(), max_size=4096, max_files=3)
    write_end = log.pipe("stdout")
    lines = [f"line {i:04d} ".encode() + b"y" * 60 for i in range(400)]
    followed: list[str] = []

    async def follow() -> None:
        async for line in log.follow():
            followed.append(line)  # noqa: PERF401 (the test watches it grow)

    follower = asyncio.ensure_future(follow())
    for index in range(0, len(lines), 10):
        # The follower keeps up (it is woken by each write); rotation never loses a line.
        await write_lines(write_end, lines[index : index + 10])
        await eventually(lambda index=index: len(followed) >= index + 10)  # type: ignore[misc]
    os.close(write_end)
    await asyncio.wait_for(log.drained(), WAIT)
    await asyncio.wait_for(follower, WAIT)

    assert followed == [line.decode() for line in lines]
    files = log.files()
    assert len(files) == 3
    assert [path.name for path in files[:2]] == [
        f"1.log.{log.generation - 2}",
        f"1.log.{log.generation - 1}",
    ]
    assert all(path.stat().st_size <= 4096 for path in files)
    assert log.generation > 10
    # kubectl logs reads the current file only; its lines are the newest ones.
    current = await collect(log.read())
    assert current == [line.decode() for line in lines[-len(current) :]]
    assert await collect(log.read(3)) == [line.decode() for line in lines[-3:]]


async def test_a_long_line_without_newline_is_written_in_pieces_as_it_comes(
    tmp_path: Path,
) -> None:
    log = ContainerLog(tmp_path / "1.log", RealClock())
    write_end = log.pipe("stderr")
    os.write(write_end, b"z" * (crilog.MAX_RECORD_CONTENT + 10))
    await eventually(lambda: log.path.stat().st_size > crilog.MAX_RECORD_CONTENT)
    assert await collect(log.read()) == []  # the line is not complete yet
    os.close(write_end)
    await asyncio.wait_for(log.drained(), WAIT)
    assert await collect(log.read()) == ["z" * (crilog.MAX_RECORD_CONTENT + 10)]
    assert log.finished


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="containerLogMaxFiles must be at least 2"):
        ProcessRuntime(log_max_files=1)
    with pytest.raises(ValueError, match="containerLogMaxSize must be positive"):
        ProcessRuntime(log_max_size=0)


async def run_to_exit(runtime: ProcessRuntime, code: str) -> Path:
    """Run `code` as container "talker" until it exits; its log directory."""
    await runtime.run_pod_sandbox(PodSandboxConfig("u", "talker", "default", "talker", ""))
    await runtime.create_container(
        "u", ContainerConfig("talker", command=(sys.executable, "-c", code))
    )
    await runtime.start_container("u", "talker")

    async def exited() -> bool:
        status = await runtime.container_status("u", "talker")
        return status is not None and status.state == "terminated"

    async with asyncio.timeout(WAIT):
        while not await exited():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    return runtime.sandbox_directory("u") / "logs" / "talker"


async def test_a_chatty_container_is_rotated(tmp_path: Path) -> None:
    limit = 64 * 1024
    async with ProcessRuntime(root=tmp_path, log_max_size=limit, log_max_files=3) as runtime:
        code = "for i in range(6000): print(f'out {i:05d} ' + 'a' * 40)\n"
        directory = await run_to_exit(runtime, code)
        files = sorted(directory.iterdir())
        assert "1.log" in [path.name for path in files] and len(files) == 3
        assert all(path.stat().st_size <= limit for path in files)
        current = [line async for line in runtime.logs("u", "talker")]
        assert 0 < len(current) < 6000  # the older lines were rotated away
        first = int(current[0].split()[1])
        assert current == [f"out {i:05d} " + "a" * 40 for i in range(first, 6000)]


async def test_records_carry_their_stream(tmp_path: Path) -> None:
    async with ProcessRuntime(root=tmp_path) as runtime:
        code = "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\n"
        directory = await run_to_exit(runtime, code)
        records = [r.split(b" ", 3) for r in (directory / "1.log").read_bytes().splitlines()]
        # Order holds within a stream; the two streams interleave as they are read.
        assert sorted(r[1:] for r in records) == [
            [b"stderr", b"F", b"to err"],
            [b"stdout", b"F", b"to out"],
        ]
        assert sorted([line async for line in runtime.logs("u", "talker")]) == [
            "to err",
            "to out",
        ]


CHATTY = "import time\nfor i in range(2000): print(i, 'b' * 40)\ntime.sleep(60)"


async def test_the_node_pool_sets_the_kubelet_log_limits(tmp_path: Path) -> None:
    pool = NodePool(count=1, container_log_max_size="16Ki", container_log_max_files=2)
    config = ClusterConfig(runtime="process", virtual_time=False, node_pools=(pool,))
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "chatty"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "main",
                    "image": "python",
                    "command": [sys.executable, "-c", CHATTY],
                }
            ],
        },
    }
    last = "1999 " + "b" * 40

    async with Cluster(config) as cluster:
        await cluster.apply(json.dumps(pod))  # JSON is YAML

        async def logged() -> bool:
            try:
                return [line async for line in cluster.logs("chatty", tail=1)] == [last]
            except (NotFound, ContainerRuntimeError):
                return False  # not scheduled or started yet

        async with asyncio.timeout(WAIT):
            while not await logged():  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        found = await cluster.get(Pod, "chatty", "default")
        runtime = cluster.kubelet("node-0").runtime
        assert isinstance(runtime, ProcessRuntime)
        assert found.metadata.uid is not None
        logs = runtime.sandbox_directory(found.metadata.uid) / "logs" / "main"
        files = sorted(logs.iterdir())
        assert len(files) == 2
        assert all(path.stat().st_size <= 16 * 1024 for path in files)


def test_bad_log_limits_name_the_field() -> None:
    with pytest.raises(ValueError, match="containerLogMaxFiles must be at least 2"):
        KubeletConfig("n", container_log_max_files=1)
    with pytest.raises(ValueError, match="containerLogMaxSize"):
        KubeletConfig("n", container_log_max_size="lots")
