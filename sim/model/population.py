"""The synthetic population of one chunk of devices, drawn with NumPy in one go.

Everything here is *exogenous*: installs, sessions, churn, reinstalls, OS
upgrades and cleared data do not depend on the prompt strategy, so every
strategy sees the very same population (common random numbers). Draws that a
strategy causes (answers to prompts) come from per-device counter-based
streams in ``sim.model.streams``. A chunk's generator is seeded from
``SeedSequence(seed, spawn_key=(replication, chunk))``: the result does not
depend on how chunks are spread over worker processes.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.model import streams
from sim.model.behaviour import Behaviour
from sim.model.scenario import Scenario
from sim.rules.config.platforms import FAMILY_OF, PlatformProfile

INF = float("inf")


@dataclass(slots=True)
class Chunk:
    """Devices ``first .. first + n - 1`` of one replication, as plain Python lists, and
    arrays for the floats and the event masks (``doubles``, ``masks``).

    Sessions are stored CSR-style: device ``i``'s session times are
    ``session_t[start[i]:end[i]]`` (sorted); those from ``reinstall_start[i]`` on
    belong to the second install.
    """

    first: int
    n: int
    user: list[int]
    profile: list[str]
    install_t: array[float]
    start: list[int]
    end: list[int]
    reinstall_start: list[int]
    session_t: array[float]
    session_seconds: array[float]
    session_event: array[int]
    """The app events and triggers each session fires, a bit mask (``Behaviour.event_bits``,
    ``Behaviour.programmatic_bit``)."""
    uninstall_t: array[float]
    """Exogenous uninstall of the first install (``inf``: never)."""
    reinstall_t: array[float]
    uninstall2_t: array[float]
    clear_t: array[float]
    upgrade_t: array[float]
    receptiveness: array[float]
    sdk_reports: list[bool]
    key: list[int]
    """Per-device key of the counter-based streams (``sim.model.streams``)."""
    uniforms: array[float]
    """The first draws of every device's streams (``sim.model.streams.table``)."""
    solo: list[bool]
    """The device's user has no other device (reachability needs no grouping)."""
    segment: list[int]
    """The device's engagement segment (``Behaviour.segments`` index): what the app sends
    it (``sim.model.sending``)."""
    utc_offset_minutes: int = 0
    """The devices' time zone (``Population.utc_offset_minutes``)."""


def _sessions(rng: np.random.Generator, start: np.ndarray, end: np.ndarray,
              median: np.ndarray, sigma: np.ndarray, poisson: bool) -> tuple[np.ndarray, ...]:
    """Session times from ``start`` (the install: a session) while ``<= end``."""
    idx = [np.arange(start.size)]
    times = [start.copy()]
    cur = start.copy()
    alive = np.arange(start.size)
    while alive.size:
        if poisson:
            gaps = rng.exponential(median[alive] / np.log(2.0))
        else:
            gaps = median[alive] * np.exp(sigma[alive] * rng.standard_normal(alive.size))
        cur[alive] += gaps
        keep = cur[alive] <= end[alive]
        alive = alive[keep]
        idx.append(alive)
        times.append(cur[alive])
    return np.concatenate(idx), np.concatenate(times)


def doubles(x: np.ndarray) -> array[float]:
    """``x`` as an ``array('d')``: 8 bytes a value, where a list of floats takes 32 (a pointer
    and a float object); a read boxes one float (the same bits). The chunk's times and
    shares are kept so: 605,000 sessions and 25,000 devices of ``bench_1m``'s chunk took
    84 MiB of each worker as lists, 37 MiB so (``docs/design.md``)."""
    out = array("d")
    out.frombytes(np.ascontiguousarray(x, dtype=np.float64).tobytes())
    return out


def masks(x: np.ndarray) -> array[int]:
    """The sessions' event masks (``x``, integers or booleans) as an ``array`` of bytes when
    every mask fits in one, else of 8-byte integers (a list takes 8 bytes a session)."""
    wide = x.size > 0 and int(x.max()) > 0xFF
    out = array("q" if wide else "B")
    out.frombytes(np.ascontiguousarray(x, dtype=np.int64 if wide else np.uint8).tobytes())
    return out


def first_at(times: array[float], t: float, lo: int, hi: int) -> int:
    """The index of the first of ``times[lo:hi]`` (sorted) at or after ``t``; ``hi`` if none.

    ``bisect.bisect_left(times, t, lo, hi)``, compiled: the engine asks it twice per wake-up,
    and the C function's call (boxed bounds, a generic comparison per step) cost 3.5% of
    the engine's instructions (callgrind)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def make_chunk(sc: Scenario, profiles: dict[str, PlatformProfile], replication: int,
               chunk: int) -> Chunk:
    """Draw devices ``chunk * chunk_size ...`` of ``replication``."""
    first = chunk * sc.chunk_size
    n = min(sc.chunk_size, sc.devices - first)
    rng = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=(replication, chunk)))
    b: Behaviour = sc.behaviour
    horizon = float(sc.days)

    # Users own 1 or 2 consecutive devices, so a user never spans two chunks.
    second = rng.random(n) < sc.population.second_device
    user_local = np.cumsum(np.concatenate(([1], ~second[1:]))) - 1
    user = first + user_local
    per_user = np.bincount(user_local)
    solo = per_user[user_local] == 1

    names = list(sc.population.mix)
    prof_idx = rng.choice(len(names), size=n, p=np.array(list(sc.population.mix.values())))
    window = sc.population.install_window_days
    install = np.minimum(rng.random(n) * window, horizon - 1e-9) if window else np.zeros(n)

    seg_share = np.array([s.share for s in b.segments])
    seg = rng.choice(len(b.segments), size=n, p=seg_share / seg_share.sum())
    life_mean = np.array([s.lifetime_mean_days for s in b.segments])[seg]
    gap_med = np.array([s.gap_median_hours / 24.0 for s in b.segments])[seg]
    gap_med = gap_med * np.exp(b.user_gap_scatter * rng.standard_normal(n))
    gap_sig = np.array([s.gap_sigma for s in b.segments])[seg]
    life1 = rng.exponential(life_mean)
    life2 = rng.exponential(life_mean)

    family = np.array([FAMILY_OF[profiles[nm].platform] for nm in names])[prof_idx]
    p_uninstall = np.array([b.uninstall_after_churn.get(f, 0.0) for f in family])
    u = rng.random((4, n))
    d = rng.exponential(1.0, size=(4, n))
    end1 = install + life1
    un1 = np.where(u[0] < p_uninstall, end1 + d[0] * b.uninstall_delay_mean_days, INF)
    re1 = np.where(u[1] < b.reinstall, un1 + d[1] * b.reinstall_delay_mean_days, INF)
    end2 = re1 + life2
    un2 = np.where(u[2] < p_uninstall, end2 + d[2] * b.uninstall_delay_mean_days, INF)
    for arr in (un1, re1, un2):
        arr[arr >= horizon] = INF
    un2[~np.isfinite(re1)] = INF

    can_clear = np.array([profiles[nm].clear_data_resets for nm in names])[prof_idx]
    clear = install + d[3] * (365.0 / b.clear_data_per_year if b.clear_data_per_year else INF)
    clear[~can_clear | (clear >= horizon)] = INF
    can_up = np.array([profiles[nm].upgrade_to is not None for nm in names])[prof_idx]
    up_rate = b.os_upgrade_per_year
    upgrade = (rng.exponential(365.0 / up_rate, size=n) if up_rate else np.full(n, INF))
    upgrade = install + upgrade
    upgrade[~can_up | (upgrade >= horizon)] = INF

    a = b.receptiveness_mean * b.receptiveness_concentration
    recept = rng.beta(max(a, 1e-9), max(b.receptiveness_concentration - a, 1e-9), size=n)

    poisson = b.gap_model == "poisson"
    e1 = np.minimum(np.minimum(end1, un1), horizon)
    i1, t1 = _sessions(rng, install, e1, gap_med, gap_sig, poisson)
    has2 = np.isfinite(re1)
    r_idx = np.flatnonzero(has2)
    e2 = np.minimum(np.minimum(end2[r_idx], un2[r_idx]), horizon)
    i2, t2 = _sessions(rng, re1[r_idx], e2, gap_med[r_idx], gap_sig[r_idx], poisson)
    i2 = r_idx[i2]
    dev = np.concatenate((i1, i2))
    epoch = np.concatenate((np.zeros(i1.size, np.int8), np.ones(i2.size, np.int8)))
    tt = np.concatenate((t1, t2))
    # Sorted by device, install and time: ``_sessions`` makes each device's times of one
    # install in increasing order, so a stable sort by (device, install) is enough (and
    # gives what sorting by time too would, ties included, at a third of the cost).
    order = np.argsort(dev * 2 + epoch, kind="stable")
    dev, tt, epoch = dev[order], tt[order], epoch[order]
    counts = np.bincount(dev, minlength=n)
    end_idx = np.cumsum(counts)
    start_idx = end_idx - counts
    first_of_epoch2 = start_idx + np.bincount(dev[epoch == 0], minlength=n)

    m = tt.size
    seconds = b.session_seconds_median * np.exp(b.session_seconds_sigma * rng.standard_normal(m))
    event: np.ndarray = rng.random(m) < b.event_per_session
    sdk = u[3] < sc.population.sdk_reports_permission
    keys = rng.integers(0, 2**62, size=n, dtype=np.int64)

    # A new iOS major version: adoption after release is log-logistic. Drawn last, and only
    # when there is one, so scenarios without it draw nothing for it.
    if b.ios_release_day is not None:
        v = rng.random(n)
        is_ios = np.array([profiles[nm].platform == "ios" for nm in names])[prof_idx]
        adopt = b.ios_release_day + b.ios_adoption_median_days * (v / (1.0 - v)) ** (
            1.0 / b.ios_adoption_shape)
        adopt = np.maximum(adopt, install)
        take = is_ios & (adopt < horizon)
        upgrade[take] = adopt[take]
    # The app's other events and its programmatic trigger: drawn after everything else, and
    # only when declared, so scenarios without them draw the same numbers as before.
    if b.events or b.programmatic_per_session:
        mask = event.astype(np.int64)
        for k, p in enumerate([*b.events.values(), b.programmatic_per_session], 1):
            mask |= (rng.random(m) < p).astype(np.int64) << k
        event = mask

    # Chrome's adaptive quiet UI: the browser of this share of Chrome devices already shows
    # quiet prompts. Drawn last, and only when the share is set.
    profile_names = [names[k] for k in prof_idx.tolist()]
    if b.chrome_adaptive_quiet > 0 and "chrome_quiet" in profiles:
        q = rng.random(n) < b.chrome_adaptive_quiet
        profile_names = ["chrome_quiet" if nm == "chrome" and q[i] else nm
                         for i, nm in enumerate(profile_names)]

    return Chunk(
        first=first, n=n, user=user.tolist(), profile=profile_names,
        install_t=doubles(install), start=start_idx.tolist(), end=end_idx.tolist(),
        reinstall_start=first_of_epoch2.tolist(), session_t=doubles(tt),
        session_seconds=doubles(seconds), session_event=masks(event),
        uninstall_t=doubles(un1), reinstall_t=doubles(re1), uninstall2_t=doubles(un2),
        clear_t=doubles(clear), upgrade_t=doubles(upgrade), receptiveness=doubles(recept),
        sdk_reports=sdk.tolist(), key=keys.tolist(), uniforms=streams.table(keys.tolist()),
        solo=solo.tolist(), segment=seg.tolist(),
        utc_offset_minutes=sc.population.utc_offset_minutes,
    )


def chunk_count(sc: Scenario) -> int:
    """How many chunks the scenario's devices make."""
    return -(-sc.devices // sc.chunk_size)


def select(c: Chunk, keep: list[int]) -> Chunk:
    """The devices ``keep`` (indexes, increasing) of ``c`` as a chunk of their own: the same
    devices, sessions, timers and stream keys, so each lives exactly as it did in ``c``
    (devices never meet; only the reachability of a user groups them). Every per-device
    list is picked; what the chunk holds for all its devices is kept."""
    start: list[int] = []
    end: list[int] = []
    re_start: list[int] = []
    t: array[float] = array("d")
    sec: array[float] = array("d")
    ev: array[int] = array(c.session_event.typecode)
    for i in keep:
        a, b = c.start[i], c.end[i]
        start.append(len(t))
        re_start.append(len(t) + c.reinstall_start[i] - a)
        t.extend(c.session_t[a:b])
        sec.extend(c.session_seconds[a:b])
        ev.extend(c.session_event[a:b])
        end.append(len(t))

    def pick(xs: list[Any]) -> list[Any]:
        return [xs[i] for i in keep]

    def pick_d(xs: array[float]) -> array[float]:
        return array("d", [xs[i] for i in keep])

    return replace(c, n=len(keep), user=pick(c.user), profile=pick(c.profile),
                   install_t=pick_d(c.install_t), start=start, end=end,
                   reinstall_start=re_start, session_t=t, session_seconds=sec,
                   session_event=ev, uninstall_t=pick_d(c.uninstall_t),
                   reinstall_t=pick_d(c.reinstall_t), uninstall2_t=pick_d(c.uninstall2_t),
                   clear_t=pick_d(c.clear_t), upgrade_t=pick_d(c.upgrade_t),
                   receptiveness=pick_d(c.receptiveness),
                   sdk_reports=pick(c.sdk_reports), key=pick(c.key),
                   uniforms=streams.table(pick(c.key)), solo=pick(c.solo),
                   segment=pick(c.segment))
