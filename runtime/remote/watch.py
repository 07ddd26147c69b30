"""A watch over HTTP: the server's newline-delimited events as `WatchEvent`s.

`RemoteWatch` is what `RemoteClient.watch` returns; it reads like the
store's `engine.watch.Watcher` (`next_batch`, `drain`, `async for`, `async
with`, `stop`), so informers consume either. A background task reads the
stream into a buffer; `next_batch` hands over everything buffered, waiting
for at least one event.

* When the server ends the stream (its `timeoutSeconds`, a restart), the
  watch reconnects from the last revision it delivered, so a reader sees one
  unbroken sequence.
* An `ERROR` event holding a 410 Status (the revision left the server's
  history) ends the watch with `Gone`, as the store's watcher does; so does
  any other error Status, as its `ApiError`. `on_expired(revision)` is told
  when the very first answer to a request from `revision` is 410, so the
  client can refuse to watch from there again and the reader relists.
* A lost connection ends the watch with `ServiceUnavailable`; the reader
  resumes or relists as after any API error.

Neighbours: `runtime.remote.client` (opens watches), `engine.informer` (the
reader), `runtime.apiserver.watching` (the server side).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import aiohttp

from engine.api.base import Resource
from engine.errors import ApiError, Gone, ServiceUnavailable
from engine.watch import BOOKMARK, EventType, WatchEvent
from runtime.remote.errors import error_from_status

__all__ = ["RemoteWatch"]

R = TypeVar("R", bound=Resource)

_TYPES: dict[str, EventType] = {
    "ADDED": "ADDED",
    "MODIFIED": "MODIFIED",
    "DELETED": "DELETED",
    "BOOKMARK": "BOOKMARK",
}


class RemoteWatch(Generic[R]):
    """One watch stream, reconnecting from its last revision until stopped."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        params: dict[str, str],
        model: type[R],
        *,
        since: int,
        ssl: Any,
        on_expired: Callable[[int], None],
    ) -> None:
        self._session = session
        self._url = url
        self._params = params
        self._model = model
        self._revision = since
        self._ssl = ssl
        self._on_expired = on_expired
        self._buffer: deque[WatchEvent[R]] = deque()
        self._error: ApiError | None = None
        self._stopped = False
        self._wakeup = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())

    # -- reading -----------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while not self._stopped:
                await self._stream_once()
        except ApiError as error:
            self._error = error
        except aiohttp.ClientError as error:
            self._error = ServiceUnavailable(f"{self._url}: watch connection lost: {error}")
        except asyncio.CancelledError:
            pass
        finally:
            self._stopped = True
            self._wakeup.set()

    async def _stream_once(self) -> None:
        started_from = self._revision
        params = {**self._params, "resourceVersion": str(started_from)}
        received = False
        async with self._session.get(self._url, params=params, ssl=self._ssl) as response:
            if response.status != 200:
                body = await response.json(content_type=None)
                raise error_from_status(response.status, body, url=self._url)
            async for line in response.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind = event.get("type")
                if kind == "ERROR":
                    error = error_from_status(
                        int(event.get("object", {}).get("code") or 500),
                        event.get("object"),
                        url=self._url,
                    )
                    if isinstance(error, Gone) and not received:
                        self._on_expired(started_from)
                    raise error
                received = True
                self._deliver(kind, event.get("object") or {})

    def _deliver(self, kind: str, document: dict[str, Any]) -> None:
        etype = _TYPES.get(kind)
        if etype is None:
            raise ApiError(f"{self._url}: unexpected watch event type {kind!r}")
        revision = int((document.get("metadata") or {}).get("resourceVersion") or 0)
        if etype is BOOKMARK:
            self._buffer.append(WatchEvent(BOOKMARK, None, revision))
        else:
            self._buffer.append(WatchEvent(etype, self._model.model_validate(document), revision))
        self._revision = max(self._revision, revision)
        self._wakeup.set()

    # -- the reader's side ---------------------------------------------------------------

    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the watch; what is buffered can still be drained."""
        self._stopped = True
        self._reader.cancel()
        self._wakeup.set()

    close = stop

    async def next_batch(self) -> list[WatchEvent[R]]:
        """Every buffered event, waiting for at least one. Raises the error that
        ended the watch (Gone, ...), StopAsyncIteration once stopped and drained."""
        while not self._buffer:
            if self._stopped:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        batch = list(self._buffer)
        self._buffer.clear()
        return batch

    def drain(self) -> list[WatchEvent[R]]:
        if not self._buffer and self._error is not None:
            raise self._error
        batch = list(self._buffer)
        self._buffer.clear()
        return batch

    def __aiter__(self) -> RemoteWatch[R]:
        return self

    async def __anext__(self) -> WatchEvent[R]:
        while True:
            batch = await self.next_batch()
            if batch:
                first, *rest = batch
                self._buffer.extendleft(reversed(rest))
                return first

    async def __aenter__(self) -> RemoteWatch[R]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        await asyncio.gather(self._reader, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._buffer)
