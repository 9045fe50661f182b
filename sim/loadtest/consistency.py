"""The after-run check: what the service holds is what the devices did, and the rules held.

Every Locust process writes ``devices-PID.jsonl``: per device what it sent, what
was acknowledged, what it was shown, the rule state it computed for itself with
the simulator's functions, and whatever was still in flight or queued when the
run stopped. :func:`settle` first completes those (a batch in flight or
unacknowledged is sent again with the same event ids, which the service
stores once; queued events go out as a last batch), then :func:`check` compares
with what the service says through its own API (``GET /v1/devices/{id}``,
``GET /v1/campaigns/{id}/stats``, and the stored events per kind of
``GET /v1/app/stats``).

The app's counts are cumulative: a second run with the same app starts from the first's.
So :func:`snapshot` records them before the run (``service_before.json`` in the run's
directory) and the checks compare what the run added (it assumes no other client writes
to the app during the run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from sim.loadtest.api import Api
from sim.loadtest.device import ELIGIBILITY, EVENTS, REGISTER
from sim.rules.config.campaigns import Once, Policy
from sim.rules.config.platforms import PlatformProfile

STAT_FIELDS = ("impressions", "clicks", "dismissals", "shown_reported", "os_dialogs", "allows",
               "denials")
"""Campaign figures the devices can account for exactly."""
Check = dict[str, Any]


def read_logs(out: Path) -> list[dict[str, Any]]:
    """Every device record of every Locust process of the run."""
    recs: list[dict[str, Any]] = []
    for path in sorted(out.glob("devices-*.jsonl")):
        with open(path, "rb") as f:
            recs.extend(msgspec.json.decode(line) for line in f if line.strip())
    return recs


def _check(name: str, passed: bool, detail: str) -> Check:
    return {"name": name, "passed": bool(passed), "detail": detail}


def settle(api: Api, recs: list[dict[str, Any]], threads: int = 8) -> dict[str, int]:
    """Complete what the stop interrupted; update the records' acknowledgements in place."""
    counts = {"inflight": 0, "unacked": 0, "queued": 0, "failed": 0}

    def post(rec: dict[str, Any], body: bytes) -> bool:
        status, content = api.request("POST", f"/v1/devices/{rec['device_id']}/events", body)
        if 200 <= status < 300:
            ack = json.loads(content)
            rec["acked_new"] += ack["new"]
            rec["acked_dup"] += ack["duplicate"]
            return True
        rec["rejected"].append(f"events after the run: HTTP {status}: {content[:200]!r}")
        return False

    def one(rec: dict[str, Any]) -> dict[str, int]:
        c = dict.fromkeys(counts, 0)
        flight, rec["uncertain"] = rec.get("inflight"), False
        if flight is not None and flight["name"] == ELIGIBILITY:
            rec["uncertain"] = True  # the service may have reserved an impression unseen
        elif flight is not None and flight["name"] == REGISTER:
            status, _ = api.request("POST", REGISTER, flight["body"].encode())
            c["inflight"] += 1
            rec["registered"] = status in (201, 409)
            c["failed"] += not rec["registered"]
        bodies = [b.encode() for b in rec["unacked"]]
        c["unacked"] += len(bodies)
        if flight is not None and flight["name"] == EVENTS:
            bodies.append(flight["body"].encode())
            c["inflight"] += 1
        if rec["queued"]:
            bodies.append(msgspec.json.encode({"events": rec["queued"]}))
            rec["batches"] += 1
            rec["events_sent"] += len(rec["queued"])
            c["queued"] += len(rec["queued"])
        for body in bodies:
            c["failed"] += not post(rec, body)
        return c

    todo = [r for r in recs if r.get("inflight") or r["unacked"] or r["queued"]]
    for r in recs:
        r.setdefault("uncertain", False)
    with ThreadPoolExecutor(threads) as pool:
        for c in pool.map(one, todo):
            for k, v in c.items():
                counts[k] += v
    return counts


def fetch_devices(api: Api, ids: list[str], threads: int = 8) -> dict[str, dict[str, Any] | None]:
    """``GET /v1/devices/{id}`` for each id (``None`` for a 404)."""
    def one(device_id: str) -> tuple[str, dict[str, Any] | None]:
        status, content = api.request("GET", f"/v1/devices/{device_id}")
        if status == 404:
            return device_id, None
        if status != 200:
            raise RuntimeError(f"GET /v1/devices/{device_id}: HTTP {status}: {content[:200]!r}")
        return device_id, json.loads(content)
    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(one, ids))


BEFORE = "service_before.json"
"""What the app held before the run: its stored events per kind and each campaign's stats."""


def stored_counts(api: Api) -> dict[str, int]:
    """Stored events of the app per kind, as the service reports them (``GET /v1/app/stats``)."""
    events: dict[str, int] = api.json("GET", "/v1/app/stats")["events"]
    return events


def snapshot(api: Api, policy: Policy, out: Path) -> None:
    """Record in ``out`` what the app holds now (:data:`BEFORE`), before the run."""
    doc = {"events": stored_counts(api),
           "campaigns": {c.id: api.json("GET", f"/v1/campaigns/{c.id}/stats")
                         for c in policy.campaigns}}
    (out / BEFORE).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def before_run(out: Path) -> dict[str, Any]:
    """What :func:`snapshot` recorded (nothing held: an app used for the first time)."""
    path = out / BEFORE
    if not path.exists():
        return {"events": {}, "campaigns": {}}
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def _sum(recs: Iterable[dict[str, Any]], key: str) -> int:
    return sum(int(r[key]) for r in recs)


def check(api: Api, recs: list[dict[str, Any]], policy: Policy,
          profiles: dict[str, PlatformProfile], *, settled: dict[str, int],
          stored: dict[str, int] | None = None, max_devices: int = 20_000,
          before: dict[str, Any] | None = None) -> dict[str, Any]:
    """All checks: ``{"passed": bool, "checks": [{"name", "passed", "detail"}]}``; ``stored``
    and the campaign stats are taken less what the app held ``before`` the run."""
    before = before or {"events": {}, "campaigns": {}}
    checks = [_acknowledged(recs, settled)]
    if stored is not None:
        checks.append(_stored(recs, _minus(stored, before["events"])))
    checks.append(_campaigns(api, recs, policy, before["campaigns"]))
    decisions, mismatches = _sum(recs, "decisions"), _sum(recs, "mismatches")
    examples = [e for r in recs for e in r["examples"]][:2]
    checks.append(_check(
        "decisions_match_rules", mismatches == 0,
        f"{decisions} eligibility answers (and every batch's resulting permission) compared "
        f"with sim.rules.decision.decide on each device's replayed state: {mismatches} differ"
        + (f" (e.g. {'; '.join(examples)})" if examples else "")))
    registered = [r for r in recs if r["registered"]]
    step = max(1, -(-len(registered) // max_devices))
    sample = registered[::step]
    views = fetch_devices(api, [r["device_id"] for r in sample])
    checks.append(_dialogs(sample, views, profiles))
    shows = sum(v for r in recs for c in r["per_campaign"].values()
                for k, v in c.items() if k == "impressions")
    optin = _sum(recs, "optin_shows")
    checks.append(_check(
        "no_prompt_to_opted_in", optin == 0,
        f"{shows} prompts shown; {optin} of them to a device the service had just reported "
        "as opted in (granted)"))
    checks.append(_once(sample, views, policy, recs))
    checks.append(_states(sample, views, recs))
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


def _acknowledged(recs: list[dict[str, Any]], settled: dict[str, int]) -> Check:
    sent, batches = _sum(recs, "events_sent"), _sum(recs, "batches")
    new, dup = _sum(recs, "acked_new"), _sum(recs, "acked_dup")
    rejected = [x for r in recs for x in r["rejected"]]
    detail = (f"{sent} events in {batches} batches from {len(recs)} devices; {new + dup} "
              f"acknowledged ({new} new, {dup} repeats of a retried batch); after the run "
              f"{settled['inflight']} requests in flight and {settled['unacked']} unanswered "
              f"batches were sent again and {settled['queued']} queued events flushed; "
              f"{len(rejected)} rejected")
    if rejected:
        detail += f" (first: {rejected[0]})"
    return _check("events_acknowledged", new + dup == sent and not rejected, detail)


def _stored(recs: list[dict[str, Any]], stored: dict[str, int]) -> Check:
    sent: dict[str, int] = {}
    for r in recs:
        for k, n in r["kinds"].items():
            sent[k] = sent.get(k, 0) + n
    kinds = sorted(set(sent) | (set(stored) - {"impression"}))
    diff = [f"{k}: stored {stored.get(k, 0)}, sent {sent.get(k, 0)}" for k in kinds
            if stored.get(k, 0) != sent.get(k, 0)]
    total = sum(sent.values())
    return _check("events_stored", not diff,
                  f"{sum(stored.get(k, 0) for k in kinds)} events stored for this app during "
                  f"the run (GET /v1/app/stats), {total} sent, over {len(kinds)} kinds"
                  + (f"; differ: {'; '.join(diff[:4])}" if diff else ": equal for every kind"))


def _campaigns(api: Api, recs: list[dict[str, Any]], policy: Policy,
               before: dict[str, dict[str, int]]) -> Check:
    uncertain = sum(1 for r in recs if r["uncertain"])
    problems, parts = [], []
    for camp in policy.campaigns:
        now = api.json("GET", f"/v1/campaigns/{camp.id}/stats")
        old = before.get(camp.id, {})
        got = {k: (v - old.get(k, 0) if isinstance(v, int) else v) for k, v in now.items()}
        want = dict.fromkeys(STAT_FIELDS, 0)
        for r in recs:
            for k, v in r["per_campaign"].get(camp.id, {}).items():
                want[k] += v
        for f in STAT_FIELDS:
            ok = (want[f] <= got[f] <= want[f] + uncertain) if f == "impressions" \
                else got[f] == want[f]
            if not ok:
                problems.append(f"{camp.id}.{f}: service {got[f]}, devices {want[f]}")
        parts.append(f"{camp.id}: {got['impressions']} impressions, {got['clicks']} clicks, "
                     f"{got['os_dialogs']} OS dialogs")
    detail = "; ".join(parts) + (" match what the devices saw and reported" if not problems
                                 else f"; differ: {'; '.join(problems[:4])}")
    if uncertain:
        detail += f" ({uncertain} eligibility calls in flight at the stop allowed for)"
    return _check("campaign_stats", not problems, detail)


def _dialogs(sample: list[dict[str, Any]], views: dict[str, Any],
             profiles: dict[str, PlatformProfile]) -> Check:
    bad = []
    answered = 0
    for r in sample:
        v = views.get(r["device_id"])
        if v is None:
            continue
        st, p = v["state"], profiles[v["state"]["profile"]]
        answered += st["dialogs_answered"]
        left = v["dialogs_left"]
        if st["denials"] > p.max_denials or (not p.os_dialog and st["dialogs_shown"]) \
                or (left is not None and left < 0):
            bad.append(f"{r['device_id']} ({p.name}): {st['dialogs_shown']} dialogs, "
                       f"{st['denials']} denials, max {p.max_denials}")
    blocked = _sum(sample, "blocked_dialogs")
    return _check("os_dialog_limit", not bad and blocked == 0,
                  f"{len(sample)} devices read back ({answered} OS dialogs answered): "
                  f"{len(bad)} past their platform's limit, {blocked} offered a dialog the "
                  "platform no longer allows" + (f" (e.g. {bad[0]})" if bad else ""))


def _once(sample: list[dict[str, Any]], views: dict[str, Any], policy: Policy,
          recs: list[dict[str, Any]]) -> Check:
    once = [c.id for c in policy.campaigns if isinstance(c.frequency, Once)]
    over = [(r["device_id"], cid) for r in sample if (v := views.get(r["device_id"]))
            for cid in once if v["state"]["campaigns"].get(cid, {}).get("shown", 0) > 1]
    seen = _sum(recs, "once_violations")
    if not once:
        return _check("once_only", True, "no once-only campaign in this strategy")
    return _check("once_only", not over and seen == 0,
                  f"once-only campaigns {', '.join(once)}: {len(over)} of {len(sample)} devices "
                  f"read back hold more than one impression in this install; {seen} second "
                  "impressions seen by the devices during the run"
                  + (f" (e.g. {over[0][0]})" if over else ""))


def _states(sample: list[dict[str, Any]], views: dict[str, Any],
            recs: list[dict[str, Any]]) -> Check:
    compared, diff, missing, skipped = 0, [], 0, 0
    for r in sample:
        v = views.get(r["device_id"])
        if v is None:
            missing += 1
            continue
        if r["uncertain"]:
            skipped += 1
            continue
        compared += 1
        if v["state"] != r["state"]:
            keys = sorted(k for k in r["state"] if v["state"].get(k) != r["state"][k])
            diff.append(f"{r['device_id']}: {', '.join(keys)}")
    unsent = sum(1 for r in recs if not r["registered"] and not r["rejected"])
    return _check("device_state", not diff and not missing,
                  f"{compared} of {len(recs)} devices' rule state read back equals the state "
                  f"the device replayed; {len(diff)} differ, {missing} unknown to the service, "
                  f"{skipped} skipped (eligibility in flight at the stop), {unsent} stopped "
                  "before their first request" + (f" (e.g. {diff[0]})" if diff else ""))
