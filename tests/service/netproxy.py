"""A loopback TCP proxy that can freeze: the far end stays connected but stops answering.

Stands between the service and PostgreSQL in tests: ``freeze()`` makes the database
"reachable but not answering" (connections accepted, bytes swallowed, nothing sent
back) without touching the shared PostgreSQL server; ``thaw()`` resumes.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class FreezableProxy:
    """``127.0.0.1:port`` -> ``target_host:target_port``, in a thread of its own."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.frozen = threading.Event()
        self._thawed: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> FreezableProxy:
        """Listen and forward."""
        self._thread.start()
        self._ready.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._thawed = asyncio.Event()
        self._thawed.set()
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        assert self._thawed is not None
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await r.read(65536):
                await self._thawed.wait()  # frozen: hold the bytes, send nothing
                w.write(data)
                await w.drain()
        with contextlib.suppress(OSError):
            w.close()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        assert self._thawed is not None
        self._writers.add(w)  # closed by stop() even if it came in while stopping
        try:
            await self._thawed.wait()  # frozen: accept, then say nothing
            ur, uw = await asyncio.open_connection(*self.target)
        except (OSError, asyncio.CancelledError):
            w.close()
            return
        self._writers |= {w, uw}
        with contextlib.suppress(asyncio.CancelledError):  # stop() ends it
            await asyncio.gather(self._pipe(r, uw), self._pipe(ur, w))

    def freeze(self) -> None:
        """Stop forwarding in both directions; keep every connection open."""
        self._loop.call_soon_threadsafe(self._thawed.clear)  # type: ignore[union-attr]

    def thaw(self) -> None:
        """Forward again."""
        self._loop.call_soon_threadsafe(self._thawed.set)  # type: ignore[union-attr]

    def stop(self) -> None:
        """Close every connection, end the thread and its loop."""
        async def shut() -> None:
            assert self._server is not None
            self._server.close()
            # a connection accepted just before the close has its callback scheduled but not
            # started: a task cancelled before its first step never runs, so its writer
            # would never be registered nor closed; let those callbacks start first
            await asyncio.sleep(0.05)
            for w in self._writers:
                w.close()
            while tasks := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                for t in tasks:  # again for connections accepted meanwhile
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for w in self._writers:
                w.close()
                with contextlib.suppress(Exception):
                    await w.wait_closed()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
