"""Supervised OPC UA connection of one device instance.

One subscription per scan group (publishing and sampling interval = the group's interval), its
monitored items created in chunks no larger than the server's MaxMonitoredItemsPerCall; points the
server refuses to monitor (or every point, when subscriptions are refused or `mode: poll`) are read
at the scan interval instead. Values keep their source timestamps; status codes map to quality by
severity (Good 0, Uncertain 1, Bad 2) and travel with bad and uncertain readings.

One bad node makes its point bad, never the device: a namespace the server lacks, a node id it does
not know, a value whose data type does not fit the point's dtype (BadTypeMismatch) — each is logged
once at WARNING naming the node. Only when no point at all can be addressed is the session closed
and retried with backoff (the namespace may appear when the server loads its model).

On connection loss or server restart the whole client is rebuilt: a new session, node ids resolved
again from the namespace URIs (indexes may change across restarts), subscriptions created again.
Meanwhile `status.stale` is set and one batch of quality-2 readings tells the sink the data is stale.
Every error path closes the session it opened (`adapters.opcua.session`).
"""

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from asyncua import Client, Node, ua

from adapters.backoff import Backoff
from adapters.base import (
    QUALITY_BAD,
    DeviceInstance,
    LinkStatus,
    RawReading,
    RawValue,
    ReadingSink,
    check_scan_groups,
    endpoint_as,
)
from adapters.cancelled import raise_if_cancelled
from adapters.errors import AdapterError, ConfigError, DeviceRejected, DeviceUnavailable
from adapters.linklog import LinkLog
from adapters.opcua import nodes
from adapters.opcua.address import opcua_of
from adapters.opcua.endpoint import OpcUaEndpoint
from adapters.opcua.session import LINK_ERRORS, Context, disconnect, open_client, status_of, translate
from adapters.opcua.subscribe import NODE_REFUSALS, max_items_per_call, subscribe
from devicemodel.devicetype import PointSpec

log = logging.getLogger(__name__)

# While subscribed, no request of ours is timed: the server's clock is read this often for the RTT.
RTT_PROBE_S = 5.0
_CURRENT_TIME: int = ua.ObjectIds.Server_ServerStatus_CurrentTime
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def quality_of(status: ua.StatusCode | None) -> int:
    """OPC UA severity (top two bits): Good 0, Uncertain 1, Bad 2."""
    if status is None:
        return 0
    return min(2, (status.value >> 30) & 0x3)


def ts_ns_of(value: ua.DataValue) -> int:
    stamp: dt.datetime | None = value.SourceTimestamp or value.ServerTimestamp
    if stamp is None:
        return time.time_ns()
    if stamp.tzinfo is None:  # asyncua hands out naive UTC datetimes
        stamp = stamp.replace(tzinfo=dt.UTC)
    return (stamp - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def coerce(point: PointSpec, value: Any) -> RawValue:
    """The server's value as the point's dtype (None stays None)."""
    if value is None:
        return None
    if point.dtype == "bool":
        return bool(value)
    if point.dtype == "string":
        return str(value)
    if point.dtype.startswith("float"):
        return float(value)
    return int(value)


class _Handler:
    """asyncua subscription callbacks, forwarded to the connection."""

    def __init__(self, conn: "OpcUaConnection", lost: asyncio.Event) -> None:
        self.conn, self.lost = conn, lost

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        self.conn._on_value(node.nodeid, data.monitored_item.Value)

    def status_change_notification(self, status: Any) -> None:
        code = getattr(status, "Status", None)
        if code is not None and quality_of(code) == QUALITY_BAD:
            self.lost.set()


class OpcUaConnection:
    """The `adapters.base.Connection` of one OPC UA device instance."""

    def __init__(self, device: DeviceInstance) -> None:
        self.device = device
        self.status = LinkStatus()
        self.endpoint = endpoint_as(device, OpcUaEndpoint, "opcua")
        check_scan_groups(device, lambda p: opcua_of(p) is not None, "an opcua node")
        self._ctx = Context(device.id, self.endpoint)
        self._links = LinkLog(log, device.id)
        self._client: Client | None = None
        self._nodes: dict[str, ua.NodeId] = {}  # point -> node id of the current session
        self._points_by_node: dict[ua.NodeId, PointSpec] = {}
        self._vtypes: dict[str, ua.VariantType] = {}
        self._buffer: deque[RawReading] = deque()
        self._wake = asyncio.Event()
        self._session_lock = asyncio.Lock()
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self._said: set[tuple[str, ...]] = set()  # what was already logged once (bounded by points)
        self.polled_points: set[str] = set()  # points read by polling in the current session
        self.bad_points: dict[str, str] = {}  # point -> why it cannot be read, in the current session
        self._bad_codes: dict[str, int] = {}  # point -> the status code its bad readings carry

    def _once(self, key: tuple[str, ...], message: str, *args: object) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning(message, *args)

    def _names(self) -> list[str]:
        return list(dict.fromkeys(n for g in self.device.scan_groups for n in g.points))

    # -- session ---------------------------------------------------------------------------------

    async def _open(self, names: Sequence[str], lost: asyncio.Event | None = None) -> Client:
        client = await open_client(self._ctx, lost)
        try:
            await self._resolve(client, names, require_any=lost is not None)
        except BaseException:
            await disconnect(client, self.endpoint.timeout)  # never leave a session behind
            raise
        return client

    async def _resolve(self, client: Client, names: Sequence[str], require_any: bool = False) -> None:
        """Node ids from namespace URIs, through this server's NamespaceArray (it may change).

        With `require_any`, raises DeviceRejected when not one of the points can be addressed.
        """
        try:
            namespaces = await client.get_namespace_array()
        except Exception as exc:
            raise translate(self._ctx, exc, None, "reading the NamespaceArray") from None
        by_name = self.device.device_type.by_name
        resolved = nodes.resolve([by_name[n] for n in names], self.device.id, namespaces)
        self._nodes.update(resolved.nodes)
        self._points_by_node = {nid: by_name[n] for n, nid in self._nodes.items()}
        missing: dict[str, list[str]] = {}
        for name, error in resolved.errors.items():
            self.bad_points[name] = str(error)
            self._bad_codes[name] = error.status
            missing.setdefault(str(error).split(": ", 1)[-1], []).append(name)
        for why, points in missing.items():
            self._once(
                ("resolve", why),
                "device %s: %s (node %s%s); %s bad",
                self.device.id, why, nodes.node_text(by_name[points[0]], self.device.id),
                f" and {len(points) - 1} more" if len(points) > 1 else "",
                "its point is" if len(points) == 1 else f"these {len(points)} points are",
            )  # fmt: skip
        if require_any and names and not resolved.nodes:
            why = next(iter(missing))
            raise DeviceRejected(
                f"device {self.device.id!r} at {self.endpoint.url}: no point can be addressed: {why}",
                "namespace",
            )

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await disconnect(client, self.endpoint.timeout)
        self.status.connected = False

    # -- data path -------------------------------------------------------------------------------

    def _on_value(self, node_id: ua.NodeId, value: ua.DataValue) -> None:
        point = self._points_by_node.get(node_id)
        if point is None:
            return
        self._push(self._reading(point, value))

    def _reading(self, point: PointSpec, value: ua.DataValue) -> RawReading:
        code = value.StatusCode
        quality = quality_of(code)
        status = int(code.value) if code is not None and quality > 0 else None
        variant = value.Value
        raw = variant.Value if variant is not None else None
        ts = ts_ns_of(value)
        if quality >= QUALITY_BAD:
            if status is not None and status in NODE_REFUSALS:
                self._node_refused(point, status)
            return RawReading(point.name, ts, None, QUALITY_BAD, status)
        mismatch = nodes.type_mismatch(point, variant.VariantType, raw) if variant is not None else None
        if mismatch is not None:
            self._once(
                ("type", point.name),
                "device %s point %s: node %s: %s; published as bad (BadTypeMismatch)",
                self.device.id, point.name, nodes.node_text(point, self.device.id), mismatch,
            )  # fmt: skip
            return RawReading(point.name, ts, None, QUALITY_BAD, nodes.BAD_TYPE_MISMATCH)
        try:
            val = coerce(point, raw)
        except (TypeError, ValueError):
            return RawReading(point.name, ts, None, QUALITY_BAD, nodes.BAD_TYPE_MISMATCH)
        return RawReading(point.name, ts, val, quality, status)

    def _node_refused(self, point: PointSpec, status: int) -> None:
        self.bad_points[point.name] = nodes.status_name(status)
        self._bad_codes[point.name] = status
        self._once(
            ("node", point.name, str(status)),
            "device %s point %s: the server refuses node %s (%s); the point is bad",
            self.device.id, point.name, nodes.node_text(point, self.device.id), nodes.status_name(status),
        )  # fmt: skip

    def _push(self, reading: RawReading) -> None:
        # Bounded: when the sink falls behind, the oldest readings go first (and are counted).
        if len(self._buffer) >= self.endpoint.queue_size:
            self._buffer.popleft()
            self.status.extra["dropped"] = self.status.extra.get("dropped", 0.0) + 1
        self._buffer.append(reading)
        self.status.extra["queue_depth"] = float(len(self._buffer))
        self._wake.set()

    async def _pump(self, sink: ReadingSink) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._buffer:
                continue
            batch = list(self._buffer)
            self._buffer.clear()
            self.status.extra["queue_depth"] = 0.0
            if self.status.connected and any(r.quality < QUALITY_BAD for r in batch):
                self.status.stale = False  # (not from values left over from a lost session)
            self.status.reads += 1
            await sink(self.device.id, batch)

    # -- run -------------------------------------------------------------------------------------

    async def run(self, sink: ReadingSink) -> None:
        ep = self.endpoint
        backoff = Backoff(initial=ep.backoff_initial, maximum=ep.backoff_max)
        pump = self._pump_task = asyncio.create_task(self._pump(sink))
        first = True
        try:
            while not self._closed:
                failure: AdapterError | None = None
                try:
                    await self._session(backoff, first)
                except AdapterError as exc:
                    failure = exc
                    self.status.read_errors += 1
                    self.status.last_error = str(exc)
                    self.status.reason = exc.reason
                finally:
                    await self._close_client()
                first = False
                if not self.status.stale:
                    self.status.stale = True
                    ts = time.time_ns()
                    for name in self._nodes:
                        self._push(RawReading(name, ts, None, QUALITY_BAD))
                if pump.done():
                    pump.result()  # the sink failed: that is the caller's error, not the device's
                if not self._closed:
                    delay = backoff.next_delay()
                    if failure is not None:
                        self._links.failed(failure, delay)
                    await asyncio.sleep(delay)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _session(self, backoff: Backoff, first: bool) -> None:
        lost = asyncio.Event()
        self.bad_points, self._bad_codes, self._nodes = {}, {}, {}
        async with self._session_lock:
            self._client = await self._open(self._names(), lost)
        if not first:
            self.status.reconnects += 1
        self.status.connected = True
        client = self._client
        try:
            polled = await self._subscribe(client, lost)
        except Exception as exc:
            raise translate(self._ctx, exc, None, "subscribing") from None
        self.polled_points = {n for names in polled.values() for n in names}
        if self.bad_points and len(self.bad_points) == len(self._names()):
            raise DeviceRejected(
                f"device {self.device.id!r} at {self.endpoint.url}: no point can be read "
                f"({'; '.join(sorted(set(self.bad_points.values())))})",
                "node",
            )
        backoff.reset()
        self.status.reason = None
        self._links.up()
        ts = time.time_ns()
        for name, code in self._bad_codes.items():
            self._push(RawReading(name, ts, None, QUALITY_BAD, code))
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(lost.wait())]
        pump = self._pump_task
        for interval, names in polled.items():
            tasks.append(asyncio.create_task(self._poll(client, interval, names)))
        if not polled:  # polled reads time themselves
            tasks.append(asyncio.create_task(self._probe_rtt(client)))
        try:
            waiting = [*tasks, pump] if pump is not None else tasks
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise a poll loop's (or the sink's) failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        raise DeviceUnavailable(f"device {self.device.id!r}: connection to {self.endpoint.url} lost")

    async def _subscribe(self, client: Client, lost: asyncio.Event) -> dict[float, list[str]]:
        """Monitored items for every scan group; returns {interval: points to poll instead}."""
        groups = self.device.scan_groups
        if self.endpoint.mode == "poll":
            polled: dict[float, list[str]] = {}
            for group in groups:
                polled.setdefault(group.interval_s, []).extend(n for n in group.points if n in self._nodes)
            return polled
        limit = await max_items_per_call(client, self.endpoint.max_items_per_call)
        done = await subscribe(client, groups, self._nodes, _Handler(self, lost), limit)
        for refusal in done.refusals:
            self._once(("subscription", refusal), "device %s: subscription refused (%s); polling instead",
                       self.device.id, refusal)  # fmt: skip
        for name, code in done.refused.items():
            self._node_refused(self.device.device_type.by_name[name], code)
        for group_name, (asked_ms, slower) in done.slower.items():
            self._once(
                ("revised", group_name),
                "device %s scan group %s: asked the server to sample every %g ms, it revised that to "
                "%s ms; values may change between samples unseen. For a fixed rate, set 'mode: poll'",
                self.device.id, group_name, asked_ms, "/".join(f"{g:g}" for g in slower),
            )  # fmt: skip
        self.status.extra["monitored_item_calls"] = float(done.calls)
        return done.polled

    async def _poll(self, client: Client, interval: float, names: list[str]) -> None:
        next_due = time.monotonic()
        while True:
            readings = await self._read(client, names)
            raise_if_cancelled()
            for reading in readings:
                self._push(reading)
            next_due += interval
            now = time.monotonic()
            if next_due < now:  # overran: skip missed cycles
                next_due = now + interval
            await asyncio.sleep(next_due - now)

    async def _probe_rtt(self, client: Client) -> None:
        """Time a read of the server's CurrentTime: the round trip of a subscribed session."""
        node = client.get_node(_CURRENT_TIME)
        while True:
            self.status.requests += 1
            started = time.monotonic()
            try:
                await node.read_data_value()
            except ua.UaStatusCodeError as exc:  # refused (access rights): the session is still fine
                why = status_of(exc) or exc
                self._once(("probe",), "device %s: the server refuses reading its CurrentTime (%s);"
                           " no round-trip time while subscribed", self.device.id, why)  # fmt: skip
                await asyncio.Event().wait()  # returning would end the session: wait with it instead
            except LINK_ERRORS as exc:
                raise DeviceUnavailable(f"device {self.device.id!r}: read failed: {exc!r}") from None
            self.status.last_rtt_s = time.monotonic() - started
            await asyncio.sleep(RTT_PROBE_S)

    async def _read(self, client: Client, names: Sequence[str]) -> list[RawReading]:
        by_name = self.device.device_type.by_name
        known = [n for n in names if n in self._nodes]
        ts = time.time_ns()
        out = [
            RawReading(n, ts, None, QUALITY_BAD, self._bad_codes.get(n, nodes.BAD_NODE_ID_UNKNOWN))
            for n in names
            if n not in known
        ]
        if not known:
            return out
        self.status.requests += 1
        started = time.monotonic()
        try:
            values = await client.read_attributes([client.get_node(self._nodes[n]) for n in known])
        except LINK_ERRORS as exc:
            raise DeviceUnavailable(f"device {self.device.id!r}: read failed: {exc!r}") from None
        self.status.last_rtt_s = time.monotonic() - started
        return [self._reading(by_name[n], v) for n, v in zip(known, values, strict=True)] + out

    # -- one-off operations ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _use_client(self, names: Sequence[str]) -> Any:
        """The running session's client, or a short-lived one when `run` has none open."""
        if self._closed:
            raise DeviceUnavailable(f"device {self.device.id!r}: connection closed")
        if self._client is not None:
            missing = [n for n in names if n not in self._nodes]
            if missing:
                await self._resolve(self._client, missing)
            yield self._client
            return
        async with self._session_lock:
            client = await self._open(names)
        try:
            yield client
        finally:
            await disconnect(client, self.endpoint.timeout)

    def _point(self, name: str) -> PointSpec:
        spec = self.device.device_type.by_name.get(name)
        if spec is None or opcua_of(spec) is None:
            raise ConfigError(f"device {self.device.id!r} has no opcua point {name!r}")
        return spec

    async def read_once(self, points: Sequence[str]) -> list[RawReading]:
        names = [self._point(n).name for n in points]
        async with self._use_client(names) as client:
            readings = {r.point: r for r in await self._read(client, names)}
        return [readings[n] for n in names]

    async def write(self, point: str, value: bool | int | float) -> None:
        """Write a raw value with the variable's own data type."""
        spec = self._point(point)
        if not spec.writable:
            raise ConfigError(f"point {point!r} of device {self.device.id!r} is not writable")
        async with self._use_client([point]) as client:
            if point not in self._nodes:
                raise DeviceRejected(f"device {self.device.id!r}: {self.bad_points.get(point, point)}")
            try:
                node = client.get_node(self._nodes[point])
                vtype = self._vtypes.get(point)
                if vtype is None:
                    vtype = self._vtypes[point] = await node.read_data_type_as_variant_type()
                if vtype == ua.VariantType.Boolean:
                    typed: bool | int | float = bool(value)
                elif vtype in (ua.VariantType.Float, ua.VariantType.Double):
                    typed = float(value)
                else:
                    typed = round(value)
                await node.write_value(ua.DataValue(ua.Variant(typed, vtype)))
            except ua.UaStatusCodeError as exc:
                raise DeviceRejected(
                    f"device {self.device.id!r}: write {point}={value!r} refused: {status_of(exc) or exc}"
                ) from None
            except LINK_ERRORS as exc:
                raise DeviceUnavailable(f"device {self.device.id!r}: write {point} failed: {exc!r}") from None

    async def close(self) -> None:
        self._closed = True
        await self._close_client()
