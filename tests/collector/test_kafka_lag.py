"""Lag arithmetic from high watermarks and committed offsets (the broker side is in tests/kafka)."""

from __future__ import annotations

from collector.kafka_lag import PartitionLag, partition_lag


def test_lag_is_high_watermark_minus_committed_per_partition() -> None:
    lag = partition_lag({0: 120, 1: 40, 2: 0, 3: 75}, {0: 100, 1: 40, 3: None})
    assert {p: v.lag for p, v in lag.items()} == {0: 20, 1: 0, 2: 0, 3: 75}
    assert lag[0] == PartitionLag(high_watermark=120, committed=100)


def test_unknown_high_watermark_is_unknown_lag_not_zero() -> None:
    assert partition_lag({0: None}, {0: 5})[0].lag is None


def test_a_commit_past_the_watermark_counts_as_caught_up() -> None:
    # A watermark read before the commit that followed it: never a negative lag.
    assert PartitionLag(high_watermark=10, committed=12).lag == 0
