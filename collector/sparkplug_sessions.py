"""A Sparkplug host's edge node sessions as they outlive the collector: what is saved, what comes back.

Pure. At the end of every batch the host hands the store a `Saved` for each edge node whose session
changed (`collector.sparkplug`); the store writes it in the batch's transaction
(`collector.sparkplug_state`), so the saved session is always that of the messages committed. A
collector started again gets each live session back as a `Restored` — bdSeq, last seq, the alias
tables of its NBIRTH and DBIRTHs, and the seq and digest of its messages among the last ones stored
(from the ledger: at most a few batches, all that can have been stored but not acknowledged to the
broker), so that DATA redelivered or queued for the session is read, and a redelivery is known, as
before the stop.
"""

# layering: pure

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from collector.sparkplug_metrics import Table
from wire.sparkplug import DataType

Key = tuple[str, str]  # (group, edge node)


@dataclass(frozen=True, slots=True)
class Saved:
    """An edge node's session at the end of a batch. `tables` is None when they did not change."""

    group: str
    edge_node: str
    bdseq: int
    seq: int
    alive: bool
    tables: Mapping[str, Table] | None = None
    # an NDEATH the host could not match to a session (after a restart): it ends the saved session
    # only if that has its bdSeq
    if_bdseq: bool = False


@dataclass(frozen=True, slots=True)
class Restored:
    group: str
    edge_node: str
    bdseq: int
    seq: int
    tables: dict[str, Table]
    stored: frozenset[tuple[int, str]] = frozenset()  # (seq, SHA-256) of its last messages stored
    birth: str | None = None  # SHA-256 of the session's NBIRTH


class BadSavedSession(ValueError):
    """A saved session that cannot be read back (edited by hand, or another version's)."""


def encode_tables(tables: Mapping[str, Table]) -> dict[str, list[list[object]]]:
    """JSON: device (the edge node id for its own metrics) → [[name, alias or null, datatype], ...]."""
    return {dev: [[n, a, int(t)] for n, a, t in table.entries()] for dev, table in tables.items()}


def decode_tables(value: object, where: str) -> dict[str, Table]:
    if not isinstance(value, dict):
        raise BadSavedSession(f"{where}: expected an object of device → metrics, got {type(value).__name__}")
    out: dict[str, Table] = {}
    for dev, entries in value.items():
        if not isinstance(entries, list):
            raise BadSavedSession(f"{where}.{dev}: expected a list of [name, alias, datatype]")
        rows: list[tuple[str, int | None, DataType]] = []
        for i, entry in enumerate(entries):
            if not (isinstance(entry, list) and len(entry) == 3):
                raise BadSavedSession(f"{where}.{dev}[{i}]: expected [name, alias, datatype], got {entry!r}")
            name, alias, code = entry
            ok = (
                isinstance(name, str)
                and (alias is None or (isinstance(alias, int) and not isinstance(alias, bool) and alias >= 0))
                and isinstance(code, int)
                and code in DataType._value2member_map_
            )
            if not ok:
                raise BadSavedSession(f"{where}.{dev}[{i}]: not a metric [name, alias, datatype]: {entry!r}")
            rows.append((name, alias, DataType(code)))
        out[str(dev)] = Table.of(rows)
    return out


def metrics_in(tables: Mapping[str, Table], without: str | None = None) -> int:
    """Metrics an edge node's session holds (its NBIRTH's and DBIRTHs'), but for device `without`."""
    return sum(len(t) for dev, t in tables.items() if dev != without)
