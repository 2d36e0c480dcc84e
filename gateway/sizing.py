"""Envelopes no larger than the broker accepts (pure): a batch that would exceed it is split.

A quick upper bound decides for devices without string points (the usual case); otherwise the
batch is measured exactly, encoded with the widest seq and timestamp, so numbering it can only
make it smaller. A single sample too large for any envelope is refused and counted by the caller.
"""

from collections.abc import Callable, Sequence

from gateway.edge import Sample

ENVELOPE_OVERHEAD = 256  # schema, gw, dev (64 characters each at most), seq, sent, punctuation
# Beyond its point name, the most one non-string sample takes: timestamp (19 digits), a number
# (24 characters), a canonical state name, quality, an optional status element, punctuation.
SAMPLE_BOUND = 96


def upper_bound(samples: Sequence[Sample], longest_name: int) -> int:
    return ENVELOPE_OVERHEAD + len(samples) * (longest_name + SAMPLE_BOUND)


def split(
    samples: list[Sample], max_bytes: int, size: Callable[[list[Sample]], int]
) -> tuple[list[list[Sample]], list[Sample]]:
    """Consecutive batches of `samples` each of `size` <= max_bytes, and the samples that fit none."""
    if size(samples) <= max_bytes:
        return [samples], []
    if len(samples) == 1:
        return [], samples
    half = len(samples) // 2
    first, refused = split(samples[:half], max_bytes, size)
    second, refused_too = split(samples[half:], max_bytes, size)
    return first + second, refused + refused_too
