"""Prometheus metrics of one worker process, in the text exposition format.

Counters are plain dicts updated in the request path (no locks: one event
loop per process). With several workers each ``/metrics`` scrape answers for
the worker that served it; the ``pid`` label tells them apart.
"""

from __future__ import annotations

import bisect
import os

BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
"""Latency histogram bounds, seconds."""


class Metrics:
    """Request counts and latencies per route, decisions per reason, events per kind."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, list[float]] = {}
        """Per route: bucket counts (last = +Inf), then sum."""
        self.decisions: dict[str, int] = {}
        self.events: dict[str, int] = {"new": 0, "duplicate": 0}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request."""
        key = (method, route, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        h = self.latency.get(route)
        if h is None:
            h = self.latency[route] = [0.0] * (len(BUCKETS) + 2)
        h[bisect.bisect_left(BUCKETS, seconds)] += 1
        h[-1] += seconds

    def decision(self, reason: str) -> None:
        """Count one eligibility answer."""
        self.decisions[reason] = self.decisions.get(reason, 0) + 1

    def events_seen(self, new: int, duplicate: int) -> None:
        """Count the events of one accepted batch."""
        self.events["new"] += new
        self.events["duplicate"] += duplicate

    def render(self, store: dict[str, int] | None = None) -> bytes:
        """The text exposition format (version 0.0.4), with the store's counters."""
        pid = os.getpid()
        out = ["# HELP promptsim_http_requests_total HTTP requests by route and status.",
               "# TYPE promptsim_http_requests_total counter"]
        for (m, r, s), n in sorted(self.requests.items()):
            out.append(f'promptsim_http_requests_total{{pid="{pid}",method="{m}",route="{r}",'
                       f'status="{s}"}} {n}')
        out += ["# HELP promptsim_http_request_seconds Request latency by route.",
                "# TYPE promptsim_http_request_seconds histogram"]
        for r, h in sorted(self.latency.items()):
            acc = 0.0
            for bound, count in zip((*BUCKETS, "+Inf"), h[:-1], strict=True):
                acc += count
                out.append(f'promptsim_http_request_seconds_bucket{{pid="{pid}",route="{r}",'
                           f'le="{bound}"}} {int(acc)}')
            out.append(f'promptsim_http_request_seconds_sum{{pid="{pid}",route="{r}"}} {h[-1]}')
            out.append(f'promptsim_http_request_seconds_count{{pid="{pid}",route="{r}"}} '
                       f'{int(acc)}')
        out += ["# HELP promptsim_decisions_total Eligibility answers by reason.",
                "# TYPE promptsim_decisions_total counter"]
        out += [f'promptsim_decisions_total{{pid="{pid}",reason="{k}"}} {n}'
                for k, n in sorted(self.decisions.items())]
        out += ["# HELP promptsim_events_total Events of accepted batches: new or retried.",
                "# TYPE promptsim_events_total counter"]
        out += [f'promptsim_events_total{{pid="{pid}",result="{r}"}} {n}'
                for r, n in sorted(self.events.items())]
        out += ["# HELP promptsim_store_total Store counters: record cache, change feed, "
                "group commit.", "# TYPE promptsim_store_total counter"]
        out += [f'promptsim_store_total{{pid="{pid}",counter="{k}"}} {n}'
                for k, n in sorted((store or {}).items())]
        return ("\n".join(out) + "\n").encode()
