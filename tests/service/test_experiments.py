"""Experiments as data, over HTTP on a real server and each store: create, read and list;
every bad input is a 4xx naming the field (422 for the types, 409 for the rules the types
cannot state) and changes nothing; an experiment applies only to
its audience; and the stats count a scripted sequence of events exactly."""

from __future__ import annotations

import time
from typing import Any

import pytest
from experiment_helpers import COLD_SOFT, ask, client, experiment, ids_in_arm, register
from service_helpers import DAY, T0


def test_create_read_list_and_unknown(db_url, server_factory):
    """PUT creates (201) and answers the stored experiment; putting it again changes nothing
    (200); GET reads it, the list holds it; an unknown id is 404 naming experiment_id."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        r = c.put("/v1/experiments/pilot-1", json=COLD_SOFT)
        assert r.status_code == 201, r.text
        stored = r.json()
        assert stored["experiment_id"] == "pilot-1"
        assert [a["name"] for a in stored["arms"]] == ["cold", "soft"]
        assert stored["arms"][0]["campaigns"][0]["primer"] is False
        again = c.put("/v1/experiments/pilot-1", json=COLD_SOFT)
        assert again.status_code == 200 and again.json() == stored
        assert c.get("/v1/experiments/pilot-1").json() == stored
        assert c.get("/v1/experiments").json() == {"experiments": [stored]}
        for path in ("/v1/experiments/nope", "/v1/experiments/nope/stats"):
            r = c.get(path)
            assert r.status_code == 404
            assert r.json()["error"] == "unknown_experiment"
            assert r.json()["field"] == "experiment_id"


def _arm(name: str, weight: float, **kw: Any) -> dict[str, Any]:
    return {"name": name, "weight": weight, "campaigns": [{"id": "p"}]} | kw


BAD: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("weights that do not sum to 1", "new", experiment(("a", 0.6, []), ("b", 0.6, []),
                                                       platforms=("android",)), 409, "arms"),
    ("a negative weight", "new", {"arms": [_arm("a", 0.6), _arm("b", 0.6), _arm("c", -0.2)],
                                  "start": T0}, 422, "arms[2].weight"),
    ("an unknown campaign", "new", {"arms": [_arm("a", 0.5, campaign_ids=["missing"]),
                                             _arm("b", 0.5)], "start": T0,
                                    "audience": {"platforms": ["android"]}},
     409, "arms[0].campaign_ids[0]"),
    ("two arms of one name", "new", {"arms": [_arm("a", 0.5), _arm("a", 0.5)], "start": T0,
                                     "audience": {"platforms": ["android"]}},
     409, "arms[1].name"),
    ("one arm", "new", {"arms": [_arm("a", 1.0)], "start": T0}, 422, "arms"),
    ("an end before the start", "new", experiment(("a", 0.5, []), ("b", 0.5, []),
                                                  platforms=("android",), end=T0 - 1),
     409, "end"),
    ("two running experiments for the same devices", "new",
     experiment(("a", 0.5, []), ("b", 0.5, []), platforms=("ios",), start=T0 + DAY),
     409, "audience"),
    ("a change to a running experiment's arms", "base",
     experiment(("cold", 0.4, [{"id": "ask", "primer": False}]),
                ("soft", 0.6, [{"id": "soft"}]), platforms=("ios",)), 409, "arms"),
    ("a change to a running experiment's audience", "base",
     experiment(("cold", 0.5, [{"id": "ask", "primer": False}]),
                ("soft", 0.5, [{"id": "soft"}]), platforms=("web",)), 409, "audience"),
]


@pytest.mark.parametrize("what,eid,body,status,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_names_the_field_and_changes_nothing(db_url, server_factory, what, eid,
                                                       body, status, field):
    """Each bad experiment gets its 4xx with {error, field, detail}; the stored experiments,
    and the running one's stats, are byte for byte what they were."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        base = experiment(("cold", 0.5, [{"id": "ask", "primer": False}]),
                          ("soft", 0.5, [{"id": "soft"}]), platforms=("ios",))
        assert c.put("/v1/experiments/base", json=base).status_code == 201
        register(c, "d1", platform="ios")
        assert ask(c, "d1")["experiment"] == "base"
        before = (c.get("/v1/experiments").content, c.get("/v1/experiments/base").content,
                  c.get("/v1/experiments/base/stats").content)
        r = c.put(f"/v1/experiments/{eid}", json=body)
        assert r.status_code == status, r.text
        err = r.json()
        assert err["field"] == field, err
        assert err["error"] and err["detail"]
        assert (err["error"] == "experiment_overlap") == what.startswith("two running")
        if err["error"] == "experiment_overlap":
            assert "'base'" in err["detail"]  # names the other experiment
        after = (c.get("/v1/experiments").content, c.get("/v1/experiments/base").content,
                 c.get("/v1/experiments/base/stats").content)
        assert after == before
        assert c.get("/v1/experiments/new").status_code == 404


def test_end_of_a_running_experiment_may_change_and_frees_its_devices(db_url, server_factory):
    """Only the end of a started experiment changes (200); once it ends, its devices get the
    app's campaigns again, and a new version may run for them after it."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/campaigns/welcome", json={}).status_code == 201
        assert c.put("/v1/experiments/v1", json=COLD_SOFT).status_code == 201
        register(c, "d1")
        assert ask(c, "d1")["experiment"] == "v1"
        ended = COLD_SOFT | {"end": T0 + DAY}
        r = c.put("/v1/experiments/v1", json=ended)
        assert r.status_code == 200 and r.json()["end"] == T0 + DAY
        v2 = COLD_SOFT | {"start": T0 + DAY, "end": None}
        assert c.put("/v1/experiments/v2", json=v2).status_code == 201
        d = ask(c, "d1", at=T0 + DAY + 10)
        assert d["experiment"] == "v2" and d["campaign_id"].startswith("v2:")
        assert sum(c.get("/v1/experiments/v1/stats").json()["srm"]["observed"].values()) == 1
        assert sum(c.get("/v1/experiments/v2/stats").json()["srm"]["observed"].values()) == 1


def test_outside_the_audience_the_app_campaigns_apply(db_url, server_factory):
    """An iOS-only experiment: an Android device gets the app's campaign and no experiment
    field; an iOS device gets its arm's campaigns and the experiment and arm."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/campaigns/welcome", json={}).status_code == 201
        body = COLD_SOFT | {"audience": {"platforms": ["ios"]}}
        assert c.put("/v1/experiments/e1", json=body).status_code == 201
        register(c, "droid")
        register(c, "phone", platform="ios")
        d = ask(c, "droid")
        assert d["campaign_id"] == "welcome" and "experiment" not in d and "arm" not in d
        d = ask(c, "phone")
        assert d["experiment"] == "e1" and d["arm"] in ("cold", "soft")
        assert d["campaign_id"] == {"cold": "e1:cold:ask", "soft": "e1:soft:soft"}[d["arm"]]
        before = ask(c, "phone", at=T0 - DAY)  # before the start: the app's campaigns
        assert "experiment" not in before


def _post(c: Any, device: str, *events: dict[str, Any]) -> None:
    r = c.post(f"/v1/devices/{device}/events", json={"events": list(events)})
    assert r.status_code == 200, r.text


def _ev(kind: str, at: float, n: list[int] = [0], **kw: Any) -> dict[str, Any]:  # noqa: B006
    n[0] += 1
    return {"type": kind, "event_id": f"x{n[0]}", "at": at} | kw


def test_stats_count_a_scripted_sequence_exactly(db_url, server_factory):
    """Three devices per arm, each with a known story; every figure of every cell is what the
    story says (the cold arm's third device never asked: not a unit; an answer before the
    first eligibility call does not count; a dismissal of nothing shown does not count)."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/experiments/e1", json=COLD_SOFT).status_code == 201
        s1, s2, s3 = ids_in_arm("e1", 1, 3)
        c1, c2, c3 = ids_in_arm("e1", 0, 3)
        for d in (s1, s2, s3, c1, c2, c3):
            register(c, d)
        soft = "e1:soft:soft"
        assert ask(c, s1)["campaign_id"] == soft
        _post(c, s1, _ev("soft_prompt_clicked", T0 + 20, campaign_id=soft),
              _ev("os_dialog_result", T0 + 30, outcome="allowed"),
              _ev("permission_changed", T0 + 40, permission="denied"))
        assert ask(c, s2)["campaign_id"] == soft
        _post(c, s2, _ev("soft_prompt_dismissed", T0 + 20, campaign_id=soft),
              _ev("soft_prompt_dismissed", T0 + 30, campaign_id=soft))
        assert ask(c, s3)["campaign_id"] == soft
        _post(c, s3, _ev("os_dialog_result", T0 + 30, outcome="denied"),
              _ev("os_dialog_result", T0 + 40, outcome="denied"),
              _ev("uninstalled", T0 + 50))
        d = ask(c, c1, at=T0 + DAY)
        assert d["campaign_id"] == "e1:cold:ask" and d["action"] == "os_dialog"
        _post(c, c1, _ev("os_dialog_result", T0 + DAY + 5, outcome="allowed"))
        _post(c, c2, _ev("os_dialog_result", T0 + 5, outcome="dismissed"))
        assert ask(c, c2)["arm"] == "cold"
        _post(c, c2, _ev("os_dialog_result", T0 + 20, outcome="dismissed"))
        _post(c, c3, _ev("os_dialog_result", T0 + 20, outcome="denied"))

        def blocked(*ids: str) -> int:
            views = [c.get(f"/v1/devices/{d}").json() for d in ids]
            return sum(v["permission"] != "granted" and v["dialogs_left"] == 0 for v in views)

        profile = c.get(f"/v1/devices/{s1}").json()["profile"]
        zero = dict.fromkeys(("soft_shown", "soft_accepted", "soft_dismissed",
                              "units_soft_shown", "os_shown", "os_allowed", "os_denied",
                              "os_dismissed", "units_os_shown", "opted_in", "opt_outs",
                              "uninstalls", "blocked"), 0)
        cell = {"platform": "android", "profile": profile}
        expected = [
            cell | zero | {"arm": "cold", "cohort_day": "2023-11-14", "units": 1,
                           "os_shown": 1, "os_dismissed": 1, "units_os_shown": 1,
                           "blocked": blocked(c2)},
            cell | zero | {"arm": "cold", "cohort_day": "2023-11-15", "units": 1,
                           "os_shown": 1, "os_allowed": 1, "units_os_shown": 1,
                           "opted_in": 1},
            cell | zero | {"arm": "soft", "cohort_day": "2023-11-14", "units": 3,
                           "soft_shown": 3, "soft_accepted": 1, "soft_dismissed": 1,
                           "units_soft_shown": 3, "os_shown": 3, "os_allowed": 1,
                           "os_denied": 2, "units_os_shown": 2, "opt_outs": 1,
                           "uninstalls": 1, "blocked": blocked(s1, s2, s3)},
        ]
        stats = c.get("/v1/experiments/e1/stats").json()
        assert stats["cells"] == expected
        assert expected[2]["blocked"] == 2  # s3 (two denials), s1 (denied in settings)
        assert stats["arms"] == [{"name": "cold", "weight": 0.5}, {"name": "soft", "weight": 0.5}]
        assert stats["srm"]["observed"] == {"cold": 2, "soft": 3}
        assert stats["srm"]["mismatch"] is False
        pooled = {x["metric"]: x for x in stats["comparisons"] if x["platform"] is None}
        assert pooled["opted_in_rate"]["difference"] == pytest.approx(0 / 3 - 1 / 2)
        assert pooled["uninstall_rate"]["difference"] == pytest.approx(1 / 3)
        for x in stats["comparisons"]:
            lo, hi = x["interval"]
            assert lo <= x["difference"] <= hi and x["alpha"] == 0.05
            assert (x["arm"], x["baseline"]) == ("soft", "cold")
        assert {x["platform"] for x in stats["comparisons"]} == {None, "android"}


def test_server_clock_app_counts_events_by_when_they_arrived(db_url, server_factory):
    """On the server's clock, an experiment's window and a unit's assignment are server
    times, and its events count from when they arrive: an answer whose client ``at`` lags
    the server (here by years) still counts."""
    s = server_factory(db_url)
    with client(s.url, s.new_app("server")) as c:
        body = COLD_SOFT | {"start": T0, "end": None}
        assert c.put("/v1/experiments/e1", json=body).status_code == 201
        r = c.post("/v1/devices", json={"device_id": "d1", "user_id": "u1",
                                        "platform": "android", "os_version": 14})
        assert r.status_code == 201, r.text
        _post(c, "d1", _ev("session_start", T0))
        r = c.post("/v1/devices/d1/eligibility", json={"trigger": "app_open"})
        d = r.json()
        assert d["show"] and d["experiment"] == "e1", d
        _post(c, "d1", _ev("os_dialog_result", T0, outcome="allowed"))
        cells = c.get("/v1/experiments/e1/stats").json()["cells"]
        assert [(x["units"], x["os_shown"], x["os_allowed"], x["opted_in"]) for x in cells] \
            == [(1, 1, 1, 1)]
        assert cells[0]["cohort_day"] == time.strftime("%Y-%m-%d", time.gmtime())


def test_a_scheduled_experiment_with_no_unit_may_still_change(db_url, server_factory):
    """Before its start (the server's time) and with no unit, every field may change (200);
    the experiment read back is the new one."""
    s = server_factory(db_url)
    with client(s.url, s.new_app("server")) as c:
        later = time.time() + 10 * DAY
        body = COLD_SOFT | {"start": later, "end": None}
        assert c.put("/v1/experiments/next", json=body).status_code == 201
        changed = body | {"unit": "user", "audience": {"platforms": ["web"]},
                          "arms": [COLD_SOFT["arms"][0] | {"weight": 0.2},
                                   COLD_SOFT["arms"][1] | {"weight": 0.8}]}
        r = c.put("/v1/experiments/next", json=changed)
        assert r.status_code == 200, r.text
        got = c.get("/v1/experiments/next").json()
        assert (got["unit"], got["audience"], [a["weight"] for a in got["arms"]]) == \
            ("user", {"platforms": ["web"]}, [0.2, 0.8])
