"""Pure Modbus request planning: coalesce the points of one unit into as few reads as possible.

Points are grouped per table and sorted by address; consecutive points share a read while the read
stays within `max_registers` (125, the protocol limit for registers) or `max_bits` (2000, for coils
and discrete inputs) and the registers left unread between two points stay within `max_gap`. Bits
packed in one status word share that word. `per_point=True` gives one read per point, for devices
that reject reads that span unmapped addresses.
"""

# layering: pure

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from adapters.errors import CodecError, ConfigError
from adapters.modbus import codec
from adapters.modbus.address import modbus_of, register_count
from devicemodel.devicetype import PointSpec

MAX_REGISTERS = 125
MAX_BITS = 2000
BIT_TABLES = ("coil", "discrete")
TABLE_ORDER = ("holding", "input", "coil", "discrete")


@dataclass(frozen=True, slots=True)
class ReadRequest:
    table: str  # holding | input | coil | discrete
    start: int
    count: int  # registers, or bits for coil/discrete
    points: tuple[str, ...]  # the points this read covers, in address order

    @property
    def end(self) -> int:
        return self.start + self.count


def span(point: PointSpec) -> tuple[int, int]:
    """[start, end) of the addresses a point occupies in its table."""
    mb = modbus_of(point)
    if mb is None:
        raise ConfigError(f"point {point.name!r} has no modbus address", field="modbus")
    count = 1 if mb.table in BIT_TABLES or mb.bit is not None else register_count(point)
    return mb.address, mb.address + count


def plan_reads(
    points: Iterable[PointSpec],
    *,
    max_gap: int = 8,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
    per_point: bool = False,
) -> tuple[ReadRequest, ...]:
    """Reads covering every point exactly once, ordered by table then address."""
    if not 1 <= max_registers <= MAX_REGISTERS or not 1 <= max_bits <= MAX_BITS or max_gap < 0:
        raise ConfigError(
            f"invalid limits: max_registers={max_registers} max_bits={max_bits} max_gap={max_gap}"
        )
    by_table: dict[str, list[tuple[int, int, str]]] = {}
    for point in points:
        start, end = span(point)
        mb = modbus_of(point)
        assert mb is not None
        limit = max_bits if mb.table in BIT_TABLES else max_registers
        if end - start > limit:
            raise ConfigError(
                f"point {point.name!r} spans {end - start} addresses, more than one read ({limit})"
            )
        if end > 65536:
            raise ConfigError(f"point {point.name!r} runs past address 65535", field="modbus.address")
        by_table.setdefault(mb.table, []).append((start, end, point.name))
    requests: list[ReadRequest] = []
    for table in TABLE_ORDER:
        spans = sorted(by_table.get(table, []))
        limit = max_bits if table in BIT_TABLES else max_registers
        if per_point:
            requests.extend(ReadRequest(table, s, e - s, (n,)) for s, e, n in spans)
            continue
        cur_start = cur_end = -1
        names: list[str] = []
        for start, end, name in spans:
            if names and start - cur_end <= max_gap and max(end, cur_end) - cur_start <= limit:
                cur_end = max(cur_end, end)
                names.append(name)
                continue
            if names:
                requests.append(ReadRequest(table, cur_start, cur_end - cur_start, tuple(names)))
            cur_start, cur_end, names = start, end, [name]
        if names:
            requests.append(ReadRequest(table, cur_start, cur_end - cur_start, tuple(names)))
    return tuple(requests)


def decode_request(
    request: ReadRequest, words: Sequence[int] | Sequence[bool], points: dict[str, PointSpec]
) -> list[tuple[str, bool | int | float | str]]:
    """(point, raw value) for every point of a read, from the registers or bits it returned."""
    if len(words) < request.count:
        raise CodecError(f"read of {request.count} at {request.table} {request.start} returned {len(words)}")
    out: list[tuple[str, bool | int | float | str]] = []
    for name in request.points:
        point = points[name]
        start, end = span(point)
        chunk = words[start - request.start : end - request.start]
        if request.table in BIT_TABLES:
            out.append((name, bool(chunk[0])))
        else:
            out.append((name, codec.decode_point(point, [int(w) for w in chunk])))
    return out


def requests_per_cycle(
    points: Sequence[PointSpec],
    *,
    max_gap: int = 8,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
) -> tuple[int, int]:
    """(reads without coalescing, reads with it) for one scan of `points`."""
    plain = len(plan_reads(points, per_point=True))
    return plain, len(plan_reads(points, max_gap=max_gap, max_registers=max_registers, max_bits=max_bits))
