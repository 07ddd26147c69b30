"""Container logs of the process runtime: pipes, CRI records, rotation, streaming reads.

Design: the child's stdout and stderr are pipes (`pipe()`), and the log is
written by kubeloop, not by the child. A reader callback on the event loop
takes what arrives on each pipe and appends it to the log file as CRI records
(`runtime.runtimes.crilog`: a timestamp and the stream on every line, as
containerd writes them). Because only kubeloop writes the file, it can rotate
it at any moment without losing or tearing a line (copy-and-truncate would
lose what the child writes between the copy and the truncation), and
followers are woken by the write itself instead of polling. The cost is
containerd's: a child that writes faster than the loop reads blocks on its
full pipe. Order is kept within a stream; stdout and stderr interleave as
they are read, as in Kubernetes.

Files, as the kubelet's `/var/log/pods/<ns>_<name>_<uid>/<container>/<n>.log`:
each container instance has its own `<n>.log` (so the previous instance stays
readable after a restart). Rotation follows the kubelet's container log
manager (`containerLogMaxSize`, default 10 Mi; `containerLogMaxFiles`,
default 5, at least 2): when a write would take the current file past
`max_size`, the file is renamed `<n>.log.<generation>` (generations count
1, 2, 3, ... per instance) and a new `<n>.log` begins; rotated files beyond
`max_files - 1` are deleted, oldest first. So an instance never has more than
`max_files` files, each at most `max_size` (or one record, up to 16 KiB plus
its prefix, if `max_size` is smaller). Deviations: the kubelet checks sizes
every 10 s (a file may pass the limit in between) and gzips older rotated
files; kubeloop rotates at the write and compresses nothing.

Reading (line by line, without newlines; never the whole file in memory):

* `read(tail)`: the current file, as `kubectl logs` reads it (the kubelet
  reads only the current file: lines rotated away are not shown), streamed a
  block at a time; with `tail=N`, the last N lines, found by reading backwards.
* `follow(tail)`: the same, then every new line as it is written, across
  rotations (a follower that falls more than `max_files - 1` rotations behind
  skips to the oldest file kept), until the log is finished.

A log is finished when every pipe has reached end of file (every process
holding it has exited), or `finish()` is called (the sandbox is removed, the
instance replaced, or it never started); `finish()` closes the pipes.

Neighbours: `runtime.runtimes.process` (one per container instance; serves
`logs()` from them), `runtime.runtimes.crilog`, `engine.clock` (timestamps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

from engine.clock import Clock
from runtime.runtimes import crilog

__all__ = ["DEFAULT_MAX_FILES", "DEFAULT_MAX_SIZE", "ContainerLog"]

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
"""The kubelet's containerLogMaxSize default (10Mi)."""
DEFAULT_MAX_FILES = 5
"""The kubelet's containerLogMaxFiles default."""

_log = logging.getLogger(__name__)

Stream = Literal["stdout", "stderr"]


@dataclass(eq=False)
class _Pipe:
    """The read end of one of the child's output pipes."""

    fd: int
    stream: bytes
    pending: bytes = b""  # the start of a line whose newline has not come yet
    line_open: bool = False  # P pieces of the current line were written
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)


class ContainerLog:
    """The log of one container instance (see the module docstring)."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_files: int = DEFAULT_MAX_FILES,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"containerLogMaxSize must be positive, got {max_size}")
        if max_files < 2:
            raise ValueError(f"containerLogMaxFiles must be at least 2, got {max_files}")
        self.path = path
        self._clock = clock
        self.max_size = max_size
        self.max_files = max_files
        self.generation = 1  # of the current file; rotated files keep theirs in their name
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(
            path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        self._size = os.fstat(self._fd).st_size
        self._pipes: dict[int, _Pipe] = {}
        self._finished = False
        self._drained = asyncio.Event()
        self._followers: set[asyncio.Event] = set()  # wake-ups of waiting followers
        self._write_failed = False

    @property
    def finished(self) -> bool:
        return self._finished

    def files(self) -> list[Path]:
        """The instance's files that exist, oldest first (the current one last)."""
        rotated = [self._generation_path(g) for g in range(1, self.generation)]
        return [path for path in [*rotated, self.path] if path.exists()]

    # -- writing -------------------------------------------------------------------

    def pipe(self, stream: Stream) -> int:
        """A new pipe into the log; the write end is returned for the child
        (the caller closes it once the child has it)."""
        if self._finished:
            raise RuntimeError("the log is finished")
        read_end, write_end = os.pipe()  # not inherited (PEP 446) unless handed over
        os.set_blocking(read_end, False)
        loop = asyncio.get_running_loop()
        self._pipes[read_end] = _Pipe(read_end, stream.encode("ascii"), loop=loop)
        loop.add_reader(read_end, self._readable, read_end)
        return write_end

    async def drained(self) -> None:
        """Return once every pipe reached end of file (or the log was finished)."""
        await self._drained.wait()

    def finish(self) -> None:
        """No more output: close the pipes (what they still hold is dropped)
        and the file; followers drain what is written and stop."""
        for fd in list(self._pipes):
            self._close_pipe(fd)
        self._finish_writing()

    def remove(self) -> None:
        """Finish, and delete every file of the instance."""
        self.finish()
        for path in self.files():
            path.unlink(missing_ok=True)

    def _readable(self, fd: int) -> None:
        pipe = self._pipes.get(fd)
        if pipe is None:
            return
        try:
            data = os.read(fd, crilog.BLOCK)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close_pipe(fd)
            if not self._pipes:
                self._finish_writing()
            return
        *lines, pending = (pipe.pending + data).split(b"\n")
        stamp = crilog.timestamp(self._clock.now())
        out = crilog.records(stamp, pipe.stream, lines) if lines else b""
        if lines:
            pipe.line_open = False
        # A long line goes out in pieces as it comes, as containerd's buffer does.
        cut = len(pending) - len(pending) % crilog.MAX_RECORD_CONTENT
        if cut:
            out += crilog.pieces(stamp, pipe.stream, pending[:cut])
            pending = pending[cut:]
            pipe.line_open = True
        pipe.pending = pending
        if out:
            self._append(out)

    def _close_pipe(self, fd: int) -> None:
        pipe = self._pipes.pop(fd)
        if pipe.loop is not None and not pipe.loop.is_closed():
            pipe.loop.remove_reader(fd)
        os.close(fd)
        if pipe.pending or pipe.line_open:  # the last line had no newline: it ends here
            stamp = crilog.timestamp(self._clock.now())
            self._append(crilog.records(stamp, pipe.stream, [pipe.pending]))

    def _finish_writing(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._finished = True
        self._drained.set()
        self._wake()

    def _append(self, data: bytes) -> None:
        """Write whole records, rotating before a record would pass `max_size`."""
        if self._fd is None:
            return
        start = 0
        try:
            while start < len(data):
                room = self.max_size - self._size
                if len(data) - start <= room:
                    self._write(data[start:])
                    break
                cut = data.rfind(b"\n", start, start + room) + 1  # the records that fit
                if cut <= start:
                    # None fits: in a new file, or alone if one record is larger than a file.
                    cut = (data.find(b"\n", start) + 1 or len(data)) if self._size == 0 else start
                if cut > start:
                    self._write(data[start:cut])
                    start = cut
                if start < len(data):
                    self._rotate()
        except OSError as error:
            if not self._write_failed:  # say it once, not for every line
                self._write_failed = True
                _log.warning("container log %s: cannot write: %s", self.path, error)
        self._wake()

    def _write(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self._size += written
            view = view[written:]

    def _rotate(self) -> None:
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        os.replace(self.path, self._rotated_path(self.generation))
        self._rotated_path(self.generation - self.max_files + 1).unlink(missing_ok=True)
        self.generation += 1
        self._fd = _open_for_append(self.path)
        self._size = 0

    def _generation_path(self, generation: int) -> Path:
        return self.path if generation == self.generation else self._rotated_path(generation)

    def _rotated_path(self, generation: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{generation}")

    # -- reading -------------------------------------------------------------------

    async def read(self, tail: int | None = None) -> AsyncIterator[str]:
        """The current file's lines, or its last `tail` (see the module docstring)."""
        if tail is not None and tail <= 0:
            return
        try:
            file = self.path.open("rb")
        except FileNotFoundError:
            return
        with file:
            end = file.seek(0, os.SEEK_END)
            assembler = crilog.Assembler()
            if tail is None:
                for record in crilog.forward(file, 0, end):
                    line = assembler.feed(record)
                    if line is not None:
                        yield line
                return
            last = crilog.tail(file, tail, end, assembler)
        for line in last:
            yield line

    async def follow(self, tail: int | None = None) -> AsyncIterator[str]:
        """`read(tail)`, then new lines as they are written, until finished."""
        generation = self.generation
        try:
            file: BinaryIO = self.path.open("rb")
        except FileNotFoundError:
            return
        assembler = crilog.Assembler()
        try:
            position = file.seek(0, os.SEEK_END)
            if tail is None:
                position = 0
            elif tail > 0:
                for last in crilog.tail(file, tail, position, assembler):
                    yield last
            while True:
                end = os.fstat(file.fileno()).st_size
                if end > position:
                    for record in crilog.forward(file, position, end):
                        line = assembler.feed(record)
                        if line is not None:
                            yield line
                    position = end
                    continue
                # At the end of this file; nothing below awaits, so the writer
                # cannot act between these checks.
                if self.generation > generation:
                    file.close()
                    generation, file = self._open_next(generation)
                    position = 0
                    continue
                if self._finished:
                    for line in assembler.rest():
                        yield line
                    return
                await self._wait_for_more()
        except FileNotFoundError:
            return  # the instance's files were removed
        finally:
            file.close()

    def _open_next(self, generation: int) -> tuple[int, BinaryIO]:
        """The file after `generation`, or the oldest kept if it was deleted."""
        for later in range(generation + 1, self.generation):
            with contextlib.suppress(FileNotFoundError):
                return later, self._generation_path(later).open("rb")
        return self.generation, self.path.open("rb")

    async def _wait_for_more(self) -> None:
        wake = asyncio.Event()
        self._followers.add(wake)
        try:
            await wake.wait()
        finally:
            self._followers.discard(wake)

    def _wake(self) -> None:
        for wake in self._followers:
            wake.set()


def _open_for_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
