"""Assignment on a real server with two workers, on each store: sticky and deterministic
across requests and workers, in the proportions of the weights; a user unit keeps its arm on
a new install; once-only campaigns hold within an arm; a forced sample-ratio mismatch is
flagged."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from experiment_helpers import COLD_SOFT, ask, client, experiment, ids_in_arm, register
from scipy import stats
from service_helpers import T0, worker_requests

from sim.rules.assignment import arm_index


def test_sticky_across_requests_and_workers_and_in_proportion(db_url, server_factory):
    """240 devices, weights 0.3 / 0.7, each asked twice on new connections (so both workers
    answer): the arm is the contract's hash every time, and the count of the second arm
    passes a two-sided binomial test at p >= 0.001 (a false alarm once in 1,000 sets of ids
    for a correct hash). The stats count each unit once, in its arm, with no mismatch."""
    s = server_factory(db_url, workers=2)
    key = s.new_app()
    body = experiment(("a", 0.3, []), ("b", 0.7, [{"id": "soft"}]))
    n = 240
    with client(s.url, key) as c:
        assert c.put("/v1/experiments/w", json=body).status_code == 201
        for i in range(n):
            register(c, f"d{i}")
    arms: dict[str, list[str]] = {}
    for round_ in range(2):
        for i in range(n):
            with client(s.url, key) as fresh:  # a new connection each time
                d = ask(fresh, f"d{i}", at=T0 + 10 + round_)
            assert d["experiment"] == "w"
            arms.setdefault(f"d{i}", []).append(d["arm"])
    assert len(worker_requests(s.url)) == 2
    for i in range(n):
        expected = "ab"[arm_index("w", f"d{i}", (0.3, 0.7))]
        assert arms[f"d{i}"] == [expected, expected], i
    in_b = sum(a[0] == "b" for a in arms.values())
    assert stats.binomtest(in_b, n, 0.7).pvalue >= 0.001
    with client(s.url, key) as c:
        srm = c.get("/v1/experiments/w/stats").json()["srm"]
    assert srm["observed"] == {"a": n - in_b, "b": in_b}
    assert srm["expected_share"] == {"a": 0.3, "b": 0.7}
    assert srm["mismatch"] is False


def test_user_unit_keeps_its_arm_on_a_new_install(db_url, server_factory):
    """``unit = "user"``: a user's second install (a new device id) gets the first's arm,
    the hash of the user id, even where the device ids alone would split them; the stats
    count users, not installs."""
    s = server_factory(db_url, workers=2)
    with client(s.url, s.new_app()) as c:
        body = COLD_SOFT | {"unit": "user"}
        assert c.put("/v1/experiments/u", json=body).status_code == 201
        split = 0
        for i in range(30):
            register(c, f"first{i}", user_id=f"user{i}")
            register(c, f"again{i}", user_id=f"user{i}", at=T0 + 86400)
            one, two = ask(c, f"first{i}")["arm"], ask(c, f"again{i}", at=T0 + 86400)["arm"]
            assert one == two == ("cold", "soft")[arm_index("u", f"user{i}", (0.5, 0.5))]
            split += arm_index("u", f"first{i}", (0.5, 0.5)) != \
                arm_index("u", f"again{i}", (0.5, 0.5))
        assert split > 5  # by device, many of these users would have been split
        cells = c.get("/v1/experiments/u/stats").json()["cells"]
        assert sum(x["units"] for x in cells) == 30
        assert {x["cohort_day"] for x in cells} == {"2023-11-14"}  # the first install's day


def test_once_only_holds_within_an_arm(db_url, server_factory):
    """Ten simultaneous calls of one device in the soft arm (two workers): the once-only
    campaign shows once. Its counters live under the arm's namespaced id, not the app's."""
    s = server_factory(db_url, workers=2)
    key = s.new_app()
    with client(s.url, key) as c:
        assert c.put("/v1/campaigns/soft", json={}).status_code == 201
        assert c.put("/v1/experiments/e1", json=COLD_SOFT).status_code == 201
        device = ids_in_arm("e1", 1, 1)[0]
        register(c, device)

    def call(_: int) -> bool:
        with httpx.Client(base_url=s.url, headers={"Authorization": f"Bearer {key}"},
                          timeout=30) as h:
            r = h.post(f"/v1/devices/{device}/eligibility",
                       json={"trigger": "app_open", "at": T0 + 10})
            assert r.status_code == 200, r.text
            d = r.json()
            assert d["arm"] == "soft"
            return bool(d["show"])

    with ThreadPoolExecutor(10) as pool:
        shown = list(pool.map(call, range(10)))
    assert sum(shown) == 1
    with client(s.url, key) as c:
        state = c.get(f"/v1/devices/{device}").json()["state"]
        assert set(state["campaigns"]) == {"e1:soft:soft"}
        assert state["campaigns"]["e1:soft:soft"]["shown"] == 1
        cells = c.get("/v1/experiments/e1/stats").json()["cells"]
        assert [(x["arm"], x["units"], x["soft_shown"]) for x in cells] == [("soft", 1, 1)]


def test_srm_flags_a_forced_mismatch(db_url, server_factory):
    """Weights 0.5 / 0.5 but 60 units in one arm and 15 in the other (the devices of one arm
    were dropped, as a broken client would): chi-square p < 0.001, mismatch."""
    s = server_factory(db_url)
    with client(s.url, s.new_app()) as c:
        assert c.put("/v1/experiments/e1", json=COLD_SOFT).status_code == 201
        for d in ids_in_arm("e1", 0, 60) + ids_in_arm("e1", 1, 15):
            register(c, d)
            ask(c, d)
        srm = c.get("/v1/experiments/e1/stats").json()["srm"]
    assert srm["observed"] == {"cold": 60, "soft": 15}
    assert srm["chi2"] == 27.0  # (60 - 37.5)^2 / 37.5 + (15 - 37.5)^2 / 37.5
    assert srm["p_value"] < 0.001 and srm["mismatch"] is True
