"""A small blocking JSON client for the eligibility API (set-up and the after-run check).

Standard library only (``http.client``, one keep-alive connection per thread),
so it works in ``promptsim load`` and, gevent-patched, inside a Locust process.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any
from urllib.parse import urlsplit

import msgspec

from sim.loadtest.experiment import ExperimentPlan
from sim.loadtest.world import campaign_docs, settings_doc


class ApiError(RuntimeError):
    """A request the service did not answer with 2xx."""


class Api:
    """``request(method, path, body)`` against ``base_url`` with the app's bearer key."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"--url: {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.prefix = u.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
            conn = self._local.conn = cls(self.host, self.port, timeout=self.timeout)
            with self._lock:
                self._all.append(conn)
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """``(status, body)``; one reconnect and retry when a kept-alive connection broke."""
        hdrs = self.headers if headers is None else {**self.headers, **headers}
        for attempt in (0, 1):
            conn = self._conn()
            try:
                conn.request(method, self.prefix + path, body=body, headers=hdrs)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except (ConnectionError, http.client.HTTPException, TimeoutError, OSError):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """Send ``body`` as JSON and decode a 2xx answer; :class:`ApiError` otherwise."""
        raw = None if body is None else (body if isinstance(body, bytes)
                                         else msgspec.json.encode(body))
        status, content = self.request(method, path, raw)
        if not 200 <= status < 300:
            text = content[:300].decode(errors="replace")
            raise ApiError(f"{method} {path}: HTTP {status}: {text}")
        return msgspec.json.decode(content) if content else None

    def close(self) -> None:
        """Close every connection this client opened, in any thread."""
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def check_app(api: Api) -> None:
    """:class:`ApiError` saying what to do unless the key's app uses the client clock.

    A load test replays simulated time through each request's ``at``; an app on the
    server's clock (such as the README's walkthrough app) would ignore it, so every
    device's days would pass in real time and no decision would match the simulator's.
    """
    info = api.json("GET", "/v1/app")
    if isinstance(info, dict) and info.get("clock", "client") != "client":
        raise ApiError(f"app {info.get('app_id')} ({info.get('name')}) uses the "
                       f"{info.get('clock')} clock, but a load test replays simulated time "
                       "through each request's 'at': create an app for it with 'promptsim "
                       "apps create NAME --clock client' and pass its key (promptsim load "
                       "--start-local, or --admin-key, creates one by itself)")


def set_up_app(api: Api, scenario: Any, strategy: Any,
               experiment: ExperimentPlan | None = None) -> None:
    """Put the strategy's settings and campaigns on the service, then the experiment if
    any (idempotent ``PUT``s: the same experiment again is 200), after :func:`check_app`."""
    check_app(api)
    api.json("PUT", "/v1/settings", settings_doc(scenario, strategy))
    for cid, doc in campaign_docs(strategy):
        api.json("PUT", f"/v1/campaigns/{cid}", doc)
    if experiment is not None:
        put_experiment(api, experiment)


def put_experiment(api: Api, experiment: ExperimentPlan) -> None:
    """``PUT /v1/experiments/{id}``; :class:`ApiError` with the service's field and detail
    when it refuses (the same experiment again is 200)."""
    path = f"/v1/experiments/{experiment.experiment_id}"
    status, content = api.request("PUT", path, msgspec.json.encode(experiment.body))
    if 200 <= status < 300:
        return
    try:
        err = msgspec.json.decode(content)
        why = f"{err['field']}: {err['detail']}"
    except (msgspec.DecodeError, KeyError, TypeError):
        why = content[:300].decode(errors="replace")
    raise ApiError(f"PUT {path}: HTTP {status}: {why}")
