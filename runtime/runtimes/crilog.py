"""The CRI container log format: writing records, and reading them back as lines.

A log file holds one record per line, as containerd writes them for the
kubelet (CRI "log format"):

    2026-12-06T19:54:17.123456Z stdout F GET / HTTP/1.1" 200 -
    <RFC 3339 time> <stdout|stderr> <F|P> <content>

`F` closes a line; `P` is a piece of a longer line whose rest follows in later
records of the same stream (containerd splits lines at 16 KiB,
`MAX_RECORD_CONTENT`; so does `records()`). Records of stdout and stderr
interleave; a line is assembled from its own stream's pieces only.

Reading never holds a file in memory:

* `forward(file, start, end)` yields the records of a byte range, reading
  `BLOCK` bytes at a time;
* `tail_start(file, lines, end)` walks back from `end` a block at a time to
  the offset where the last `lines` lines begin;
* `Assembler` turns records into lines (pieces joined per stream; a line that
  grows past `MAX_LINE` is handed out in `MAX_LINE` pieces so that a newline
  that never comes cannot exhaust memory). Undecodable UTF-8 is replaced.

A line that does not parse as a record is returned as it is.

Neighbours: `runtime.runtimes.process_logs` (writes and reads container logs
in this format).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

__all__ = [
    "BLOCK",
    "MAX_LINE",
    "MAX_RECORD_CONTENT",
    "Assembler",
    "forward",
    "pieces",
    "records",
    "tail",
    "tail_start",
    "timestamp",
]

BLOCK = 64 * 1024
"""Bytes read from a file at a time."""

MAX_RECORD_CONTENT = 16 * 1024
"""containerd's line buffer: longer lines are written as `P` pieces."""

MAX_LINE = 1024 * 1024
"""The most a reader holds of one line before handing out a piece of it."""


def timestamp(moment: datetime) -> bytes:
    """RFC 3339 in UTC with a `Z`, as the record's first field."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode("ascii")


def records(stamp: bytes, stream: bytes, lines: list[bytes]) -> bytes:
    """Full (`F`) records of `lines`, each split into `P` pieces if too long."""
    full = stamp + b" " + stream + b" F "
    out: list[bytes] = []
    for line in lines:
        if len(line) > MAX_RECORD_CONTENT:
            head = len(line) - (len(line) % MAX_RECORD_CONTENT or MAX_RECORD_CONTENT)
            out.append(pieces(stamp, stream, line[:head]))
            line = line[head:]
        out.append(full + line + b"\n")
    return b"".join(out)


def pieces(stamp: bytes, stream: bytes, data: bytes) -> bytes:
    """`P` records of `data`, a piece of at most `MAX_RECORD_CONTENT` bytes each."""
    prefix = stamp + b" " + stream + b" P "
    size = MAX_RECORD_CONTENT
    return b"".join(prefix + data[i : i + size] + b"\n" for i in range(0, len(data), size))


def _parse(record: bytes) -> tuple[bytes, bool, bytes] | None:
    """(stream, is a piece, content), or None for a line that is not a record."""
    parts = record.split(b" ", 3)
    if len(parts) == 4 and parts[2] in (b"F", b"P"):
        return parts[1], parts[2] == b"P", parts[3]
    return None


class Assembler:
    """Records in, lines out (see the module docstring)."""

    def __init__(self) -> None:
        self._pieces: dict[bytes, list[bytes]] = {}
        self._sizes: dict[bytes, int] = {}

    def feed(self, record: bytes) -> str | None:
        """The line `record` completes, if it completes one."""
        parsed = _parse(record)
        if parsed is None:
            return record.decode("utf-8", errors="replace")
        stream, piece, content = parsed
        if piece:
            pieces = self._pieces.setdefault(stream, [])
            pieces.append(content)
            self._sizes[stream] = self._sizes.get(stream, 0) + len(content)
            if self._sizes[stream] < MAX_LINE:
                return None
            content = b""
        if stream in self._pieces:
            self._sizes.pop(stream, None)
            content = b"".join(self._pieces.pop(stream)) + content
        return content.decode("utf-8", errors="replace")

    def rest(self) -> list[str]:
        """Lines left unfinished (pieces whose closing record never came)."""
        lines = [
            b"".join(pieces).decode("utf-8", errors="replace") for pieces in self._pieces.values()
        ]
        self._pieces.clear()
        self._sizes.clear()
        return lines


def forward(file: BinaryIO, start: int, end: int) -> Iterator[bytes]:
    """The records (without newline) between offsets `start` and `end`, which are
    record boundaries, read a block at a time."""
    file.seek(start)
    position = start
    carry = b""
    while position < end:
        block = file.read(min(BLOCK, end - position))
        if not block:
            break
        position += len(block)
        *complete, carry = (carry + block).split(b"\n")
        yield from complete
    if carry:
        yield carry


def _backward(file: BinaryIO, end: int) -> Iterator[tuple[int, bytes]]:
    """(offset, record) from `end` (a record boundary) back to the file's start."""
    buffer = b""
    stop = 0  # buffer[:stop] is file[position:position + stop], ending on a boundary
    position = end
    while True:
        if stop > 0:
            cut = buffer.rfind(b"\n", 0, stop - 1)
            if cut >= 0 or position == 0:
                begin = cut + 1
                yield position + begin, buffer[begin : stop - 1]
                stop = begin
                continue
        if position == 0:
            return
        step = min(BLOCK, position)
        position -= step
        file.seek(position)
        buffer = file.read(step) + buffer[:stop]
        stop = len(buffer)


def tail_start(file: BinaryIO, lines: int, end: int) -> int:
    """An offset from which reading forward to `end` gives (at least) the last
    `lines` complete lines: walking back, each `F` record counts as a line, and
    a stream whose line is counted stays open until its previous `F`, so that
    every piece of a counted line is included; but not for more than
    `MAX_LINE` bytes beyond the last counted line (a reader would hand out a
    line that long in pieces anyway)."""
    counted = 0
    open_streams: set[bytes] = set()
    start = end
    limit = -1  # set once every line is counted: the scan stops before this offset
    for offset, record in _backward(file, end):
        parsed = _parse(record)
        stream, piece = (parsed[0], parsed[1]) if parsed is not None else (b"", False)
        if not piece:
            open_streams.discard(stream)  # an open stream's counted line begins after this
            if counted < lines:
                counted += 1
                open_streams.add(stream)
                if counted == lines:
                    limit = offset - MAX_LINE
            elif not open_streams:
                return start
        if offset < limit:
            return start
        start = offset
    return start


def tail(file: BinaryIO, lines: int, end: int, assembler: Assembler) -> list[str]:
    """The last `lines` complete lines before `end` (pieces of a line still
    being written stay in `assembler`)."""
    last: deque[str] = deque(maxlen=lines)
    for record in forward(file, tail_start(file, lines, end), end):
        line = assembler.feed(record)
        if line is not None:
            last.append(line)
    return list(last)
