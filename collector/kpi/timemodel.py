"""State timeline and the ISO 22400 time model, per device-day (pure numpy).

A state sample holds until the next sample of the same device, but never longer than the heartbeat
timeout; the rest of the time is `no_data` (inferred, never filled by extending the last state).
Samples of bad quality, without a value or with an unknown code also count as `no_data`.
All times are int64 nanoseconds since the Unix epoch (UTC); windows are aligned to UTC days.
"""

# layering: pure

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from wire.states import CANONICAL_STATES, PLANNED_DOWN, PRODUCTIVE, STATE_CODES, UNPLANNED_DOWN

DAY_NS = 86_400 * 1_000_000_000
N_STATES = len(CANONICAL_STATES)
NO_DATA = STATE_CODES["no_data"]
PRODUCTIVE_CODES = np.array(sorted(STATE_CODES[s] for s in PRODUCTIVE))
PLANNED_CODES = np.array(sorted(STATE_CODES[s] for s in PLANNED_DOWN))
UNPLANNED_CODES = np.array(sorted(STATE_CODES[s] for s in UNPLANNED_DOWN))
# A failure starts when a device enters one of these from any other state (minor stops are not failures);
# planned stops in between do not end an episode; after a gap in state data (no_data) nothing is known.
FAILURE_CODES = np.array(sorted(STATE_CODES[s] for s in ("unplanned_stop", "corrective_maintenance")))
SKIP_CODES = np.array(sorted({STATE_CODES["planned_stop"], NO_DATA}))
MAINTENANCE_CODES = np.array(
    sorted(STATE_CODES[s] for s in ("planned_maintenance", "corrective_maintenance"))
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Timeline:
    """Seconds per (device, day, canonical state) plus event counts per (device, day)."""

    seconds: F64  # shape (devices, days, N_STATES); sums to 86 400 over the last axis
    failures: I64  # (devices, days): entries into unplanned_stop / corrective_maintenance
    maintenance: I64  # (devices, days): entries into planned / corrective maintenance

    def total(self, codes: npt.NDArray[np.int64]) -> F64:
        return np.asarray(self.seconds[:, :, codes].sum(axis=2), dtype=np.float64)

    @property
    def apt(self) -> F64:
        """Actual production time, seconds."""
        return self.total(PRODUCTIVE_CODES)

    @property
    def no_data(self) -> F64:
        return np.asarray(self.seconds[:, :, NO_DATA], dtype=np.float64)

    @property
    def pbt(self) -> F64:
        """Planned busy time: calendar time − planned stops − no_data, seconds."""
        return DAY_NS / 1e9 - self.total(PLANNED_CODES) - self.no_data

    @property
    def unplanned(self) -> F64:
        return self.total(UNPLANNED_CODES)

    @property
    def repair(self) -> F64:
        """Time in failure states (the MTTR numerator), seconds."""
        return self.total(FAILURE_CODES)

    @property
    def coverage(self) -> F64:
        """Share of planned time that state data explains: PBT / (PBT + no_data).

        no_data counts as planned time (it might have been), so gaps can only lower coverage. A day
        that the data shows as entirely planned down is fully covered.
        """
        planned = self.pbt + self.no_data
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(planned > 0, self.pbt / np.where(planned > 0, planned, 1.0), 1.0)


@dataclass(frozen=True)
class Covered:
    """Disjoint intervals [start, end) of state data per device, sorted by (dev, start)."""

    dev: I64
    start: I64
    end: I64

    def between(self, dev: I64, a: I64, b: I64) -> I64:
        """ns of [a, b) covered on each query's device."""
        return self.before(dev, b) - self.before(dev, a)

    def before(self, dev: I64, x: I64) -> I64:
        """Covered ns of each query's device before x (queries in any order)."""
        if len(self.start) == 0 or len(x) == 0:
            return np.zeros(len(x), dtype=np.int64)
        last = self._memo
        if last and len(last[1]) == len(x) and np.array_equal(last[1], x) and np.array_equal(last[0], dev):
            return last[2]  # counters sampled together ask the same question
        answer = self._before(dev, x)
        self._memo[:] = [dev, x, answer]
        return answer

    @cached_property
    def _memo(self) -> list[I64]:
        return []

    def _before(self, dev: I64, x: I64) -> I64:
        length, cum_dev = self._cumulative
        i = self._last_start_at_or_before(dev, x)
        ok = i >= 0
        ok[ok] = self.dev[i[ok]] == dev[ok]
        j = np.maximum(i, 0)
        inside = np.clip(x - self.start[j], 0, length[j])
        return np.where(ok, cum_dev[j] + inside, 0)

    @cached_property
    def _cumulative(self) -> tuple[I64, I64]:
        """Interval lengths and the covered ns of each interval's device before it."""
        length = self.end - self.start
        cum = np.cumsum(length) - length
        first = np.ones(len(length), dtype=bool)
        first[1:] = self.dev[1:] != self.dev[:-1]
        run = np.maximum.accumulate(np.where(first, np.arange(len(length)), 0))
        return length, cum - cum[run]

    @cached_property
    def _key(self) -> tuple[int, int, I64] | None:
        """(origin, width, device-major monotone key of the starts), or None when it would overflow."""
        lo = int(self.start.min())
        width = int(self.end.max()) - lo + 1
        if (int(self.dev.max()) + 2) * width >= 2**62:
            return None
        return lo, width, self.dev * width + (self.start - lo)

    def _last_start_at_or_before(self, dev: I64, x: I64) -> I64:
        """Index of the last interval with (dev, start) <= (query dev, x); −1 if none."""
        keyed = self._key
        if keyed is not None and int(dev.max()) <= int(self.dev.max()) + 1:
            lo, width, key = keyed
            # times outside the intervals' span are clipped into it: the device check and the clip of
            # `inside` in `before` keep the answer exact
            q = dev * width + np.clip(x - lo, 0, width - 1)
            return np.searchsorted(key, q, side="right") - 1
        n = len(self.start)  # wide spans of many devices: rank both in (dev, time) order
        kind = np.concatenate([np.zeros(n, np.int8), np.ones(len(x), np.int8)])
        order = np.lexsort((kind, np.concatenate([self.start, x]), np.concatenate([self.dev, dev])))
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return np.cumsum(order < n)[rank[n:]] - 1


def covered(dev: I64, t: I64, codes: I64, *, end: int, timeout_ns: int, busy: bool = False) -> Covered:
    """The time state data explains (each sample holds until the next, at most `timeout_ns`, and
    not at all when it is no_data), from samples sorted by (dev, t); `busy`: only planned busy time
    (planned stops left out too)."""
    return coverage(dev, t, codes, end=end, timeout_ns=timeout_ns)[1 if busy else 0]


def coverage(dev: I64, t: I64, codes: I64, *, end: int, timeout_ns: int) -> tuple[Covered, Covered]:
    """Both at once: (time state data explains, the part of it in planned busy time)."""
    keep = t < end
    dev, t, codes = dev[keep], t[keep], codes[keep]
    nxt = np.full(len(t), end, dtype=np.int64)
    if len(t) > 1:
        same = dev[1:] == dev[:-1]
        nxt[:-1] = np.where(same, t[1:], end)
    seg_end = np.minimum(np.minimum(nxt, t + timeout_ns), end)
    live = (seg_end > t) & (codes != NO_DATA)
    busy = live & ~IS_PLANNED[codes]
    return Covered(dev[live], t[live], seg_end[live]), Covered(dev[busy], t[busy], seg_end[busy])


def sanitize_codes(values: F64, quality: npt.NDArray[np.int16] | None = None) -> I64:
    """State codes from stored values: NaN, non-integral, out-of-range or bad quality → no_data."""
    ok = np.isfinite(values) & (values >= 0) & (values < N_STATES) & (np.floor(values) == values)
    if quality is not None:
        ok &= quality < 2
    return np.where(ok, np.nan_to_num(values), NO_DATA).astype(np.int64)


def _member(group: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Lookup table code → in group (faster than np.isin for a handful of codes)."""
    table = np.zeros(N_STATES, dtype=bool)
    table[group] = True
    return table


IS_FAILURE, IS_MAINTENANCE, IS_SKIPPED, IS_PLANNED = (
    _member(FAILURE_CODES),
    _member(MAINTENANCE_CODES),
    _member(SKIP_CODES),
    _member(PLANNED_CODES),
)


def _previous_informative(dev: I64, t: I64, codes: I64, timeout_ns: int) -> I64:
    """Index of each sample's previous sample of the same device, looking back past planned stops;
    −1 where there is none, or where state data has a gap (no_data) in between: what came before a gap
    is unknown, so an episode seen after it did not start there and is not counted."""
    n = len(codes)
    idx = np.arange(n)
    broken = np.ones(n, dtype=bool)  # sample i follows unexplained time (or starts a device)
    if n > 1:
        broken[1:] = (dev[1:] != dev[:-1]) | (t[1:] - t[:-1] > timeout_ns) | (codes[:-1] == NO_DATA)
    run = np.maximum.accumulate(np.where(broken, idx, 0))  # first sample of each sample's unbroken run
    last = np.maximum.accumulate(np.where(IS_SKIPPED[codes], -1, idx))  # last informative at or before i
    prev = np.full(n, -1)
    prev[1:] = last[:-1]
    return np.where(prev >= run, prev, -1)


def _entries(codes: I64, prev: I64, table: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Samples that start an episode of a group: the device's previous informative state is outside
    it (a repair that resumes after a shift break is the same episode). A device's first samples
    start nothing: what came before is unknown.
    """
    inside = table[codes]
    return inside & (prev >= 0) & ~inside[np.maximum(prev, 0)]


def build_timeline(
    dev: I64, t: I64, codes: I64, *, n_devices: int, start: int, end: int, timeout_ns: int
) -> Timeline:
    """Seconds per device-day and state from state samples sorted by (dev, t).

    `dev` are device indexes 0..n_devices-1; samples before `start` (a lookback of one timeout) seed
    the state at the window start; samples at or after `end` are ignored.
    """
    if start % DAY_NS or end % DAY_NS or end <= start:
        raise ValueError("the window must be whole UTC days")
    n_days = (end - start) // DAY_NS
    keep = t < end
    if not keep.all():
        dev, t, codes = dev[keep], t[keep], codes[keep]
    if len(t) > 1 and np.any((np.diff(dev) == 0) & (np.diff(t) < 0)):
        raise ValueError("state samples must be sorted by device and time")
    nxt = np.full(len(t), end, dtype=np.int64)
    same_next = np.zeros(len(t), dtype=bool)
    same_next[:-1] = dev[1:] == dev[:-1]
    nxt[:-1] = np.where(same_next[:-1], t[1:], end)
    seg_end = np.minimum(np.minimum(nxt, t + timeout_ns), end)
    seg_start = np.maximum(t, start)
    live = seg_end > seg_start
    s, e, d, c = seg_start[live] - start, seg_end[live] - start, dev[live], codes[live]
    # Split segments at day boundaries; only the few that cross midnight are expanded.
    day = s // DAY_NS
    pieces = (e - 1) // DAY_NS - day + 1
    cross = np.flatnonzero(pieces > 1)
    ps, pe = s, e
    if len(cross):
        n = pieces[cross]
        idx = np.repeat(cross, n)
        first = np.cumsum(n) - n
        xday = day[idx] + (np.arange(len(idx)) - np.repeat(first, n))
        xs = np.maximum(s[idx], xday * DAY_NS)
        xe = np.minimum(e[idx], (xday + 1) * DAY_NS)
        single = pieces == 1
        ps, pe = np.concatenate([s[single], xs]), np.concatenate([e[single], xe])
        day = np.concatenate([day[single], xday])
        d, c = np.concatenate([d[single], d[idx]]), np.concatenate([c[single], c[idx]])
    key = (d * n_days + day) * N_STATES + c
    size = n_devices * n_days * N_STATES
    secs = np.asarray(np.bincount(key, weights=(pe - ps) / 1e9, minlength=size), dtype=np.float64)
    secs = secs.reshape(n_devices, n_days, N_STATES)
    # Whatever no sample explains is no_data.
    secs[:, :, NO_DATA] += DAY_NS / 1e9 - secs.sum(axis=2)
    np.maximum(secs[:, :, NO_DATA], 0.0, out=secs[:, :, NO_DATA])  # float rounding only

    in_window = (t >= start) & (t < end)
    ev_key = dev * n_days + (t - start) // DAY_NS
    prev = _previous_informative(dev, t, codes, timeout_ns)
    failures = _count(ev_key[in_window & _entries(codes, prev, IS_FAILURE)], n_devices, n_days)
    maintenance = _count(ev_key[in_window & _entries(codes, prev, IS_MAINTENANCE)], n_devices, n_days)
    return Timeline(seconds=secs, failures=failures, maintenance=maintenance)


def _count(keys: I64, n_devices: int, n_days: int) -> I64:
    return np.bincount(keys, minlength=n_devices * n_days).reshape(n_devices, n_days).astype(np.int64)
