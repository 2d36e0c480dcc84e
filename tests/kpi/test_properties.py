"""Properties of the pure core over random inputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.kpi.counters import steps as counter_steps
from collector.kpi.timemodel import DAY_NS, N_STATES, build_timeline

D0 = 20_100 * DAY_NS


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(0, 2**14), min_size=2, max_size=200),
    start=st.integers(0, 2**16 - 1),
)
def test_uint16_register_unwraps_to_the_true_increments(steps: list[int], start: int) -> None:
    wrap = 2.0**16
    true = np.array(steps, dtype=np.float64)
    true[0] = 0.0
    values = np.mod(start + np.cumsum(true), wrap)
    t = np.arange(len(values), dtype=np.int64) * 60 * 10**9
    got = counter_steps(np.zeros(len(values), np.int64), t, values, wrap=np.full(len(values), wrap))
    assert np.array_equal(got.inc, true) and not got.flags.any()


@settings(max_examples=60, deadline=None)
@given(
    n_dev=st.integers(1, 4),
    data=st.data(),
    timeout_s=st.integers(1, 20_000),
)
def test_every_device_day_adds_up_to_24_hours(n_dev: int, data: st.DataObject, timeout_s: int) -> None:
    days = 3
    rows = []
    for d in range(n_dev):
        ts = sorted(data.draw(st.lists(st.integers(-DAY_NS, (days + 1) * DAY_NS), max_size=40)))
        codes = data.draw(st.lists(st.integers(0, N_STATES - 1), min_size=len(ts), max_size=len(ts)))
        rows += [(d, D0 + t, c) for t, c in zip(ts, codes, strict=True)]
    dev = np.array([r[0] for r in rows], dtype=np.int64)
    t = np.array([r[1] for r in rows], dtype=np.int64)
    c = np.array([r[2] for r in rows], dtype=np.int64)
    tl = build_timeline(
        dev, t, c, n_devices=n_dev, start=D0, end=D0 + days * DAY_NS, timeout_ns=timeout_s * 10**9
    )
    assert np.allclose(tl.seconds.sum(axis=2), 86_400.0)
    assert (tl.seconds >= 0).all()
    # no state can hold longer than one timeout per sample
    known = tl.seconds[:, :, : N_STATES - 1].sum()
    assert known <= len(t) * timeout_s + 1e-6
    assert ((tl.coverage >= 0) & (tl.coverage <= 1)).all()
