"""Supervised OPC UA connection of one device instance.

One subscription per scan group (publishing and sampling interval = the group's interval), its
monitored items created in chunks no larger than the server's MaxMonitoredItemsPerCall; points the
server refuses to monitor (or every point, when subscriptions are refused or `mode: poll`) are read
at the scan interval instead. Values keep their source timestamps; status codes map to quality by
severity (Good 0, Uncertain 1, Bad 2).

On connection loss or server restart the whole client is rebuilt: a new session, node ids resolved
again from the namespace URIs (indexes may change across restarts), subscriptions created again.
Meanwhile `status.stale` is set and one batch of quality-2 readings tells the sink the data is stale.
"""

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from typing import Any

from asyncua import Client, Node, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

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
from adapters.devicetype import PointSpec
from adapters.errors import AdapterError, ConfigError, DeviceRejected, DeviceUnavailable
from adapters.opcua.certs import ensure_certificate
from adapters.opcua.endpoint import OpcUaEndpoint

log = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MODES = {"sign": ua.MessageSecurityMode.Sign, "sign_encrypt": ua.MessageSecurityMode.SignAndEncrypt}
# Foreign errors that mean "the server or the link failed" rather than "this request was refused".
_LINK_ERRORS = (OSError, TimeoutError, ConnectionError, ua.UaError)


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
        check_scan_groups(device, lambda p: p.opcua is not None, "an opcua node")
        self._client: Client | None = None
        self._nodes: dict[str, ua.NodeId] = {}  # point -> node id of the current session
        self._points_by_node: dict[ua.NodeId, PointSpec] = {}
        self._vtypes: dict[str, ua.VariantType] = {}
        self._buffer: deque[RawReading] = deque()
        self._wake = asyncio.Event()
        self._session_lock = asyncio.Lock()
        self._pump_task: asyncio.Task[None] | None = None
        self._closed = False
        self.polled_points: set[str] = set()  # points read by polling in the current session

    # -- session ---------------------------------------------------------------------------------

    async def _open(self, lost: asyncio.Event | None = None) -> Client:
        ep = self.endpoint
        client = Client(ep.url, timeout=ep.timeout, watchdog_intervall=ep.watchdog_s)
        client.application_uri = ep.application_uri
        client.name = client.description = f"plantproof gateway ({self.device.id})"
        try:
            if ep.security != "none":
                paths = await asyncio.to_thread(ensure_certificate, ep.cert_dir, ep.application_uri)
                await client.set_security(
                    SecurityPolicyBasic256Sha256,
                    certificate=str(paths.cert),
                    private_key=str(paths.key),
                    server_certificate=str(ep.server_certificate) if ep.server_certificate else None,
                    mode=_MODES[ep.security],
                )
                if ep.auth == "certificate":
                    await client.load_client_certificate(str(paths.cert))
                    await client.load_private_key(paths.key)
            if ep.auth == "username" and ep.username and ep.password is not None:
                client.set_user(ep.username)
                client.set_password(ep.password.get_secret_value())
            await asyncio.wait_for(client.connect(), ep.timeout * 3)
        except (*_LINK_ERRORS, ValueError) as exc:
            with contextlib.suppress(Exception):
                await client.disconnect()
            raise DeviceUnavailable(
                f"device {self.device.id!r}: cannot connect to {ep.url}: {exc!r}"
            ) from None
        if lost is not None:

            async def on_lost(exc: Exception) -> None:
                lost.set()

            client.connection_lost_callback = on_lost
        await self._resolve(client)
        return client

    async def _resolve(self, client: Client) -> None:
        """Node ids from namespace URIs, through this server's NamespaceArray (it may change)."""
        try:
            namespaces = await client.get_namespace_array()
        except _LINK_ERRORS as exc:
            raise DeviceUnavailable(
                f"device {self.device.id!r}: cannot read NamespaceArray: {exc!r}"
            ) from None
        nodes: dict[str, ua.NodeId] = {}
        for name in dict.fromkeys(n for g in self.device.scan_groups for n in g.points):
            nodes[name] = self._node_id(self.device.device_type.by_name[name], namespaces)
        self._nodes = nodes
        self._points_by_node = {nid: self.device.device_type.by_name[n] for n, nid in nodes.items()}

    def _node_id(self, point: PointSpec, namespaces: list[str]) -> ua.NodeId:
        assert point.opcua is not None
        uri = point.opcua.namespace_uri()
        if uri.isdigit():
            index = int(uri)
        elif uri in namespaces:
            index = namespaces.index(uri)
        else:
            raise DeviceRejected(f"device {self.device.id!r}: server has no namespace {uri!r}")
        kind, ident = point.opcua.identifier(self.device.id)
        make: Any = ua.NodeId  # asyncua annotates its own NewType-like aliases, not the Python types
        try:
            if kind == "i":
                return make(int(ident), index, ua.NodeIdType.Numeric)
            if kind == "g":
                return make(uuid.UUID(ident), index, ua.NodeIdType.Guid)
        except ValueError:
            raise ConfigError(
                f"point {point.name!r}: bad node identifier {ident!r}", field="opcua.node"
            ) from None
        return make(ident, index, ua.NodeIdType.String)

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), self.endpoint.timeout)
        self.status.connected = False

    # -- data path -------------------------------------------------------------------------------

    def _on_value(self, node_id: ua.NodeId, value: ua.DataValue) -> None:
        point = self._points_by_node.get(node_id)
        if point is None:
            return
        self._push(self._reading(point, value))

    def _reading(self, point: PointSpec, value: ua.DataValue) -> RawReading:
        quality = quality_of(value.StatusCode)
        raw = value.Value.Value if value.Value is not None else None
        try:
            val = coerce(point, raw) if quality < QUALITY_BAD else None
        except (TypeError, ValueError):
            val, quality = None, QUALITY_BAD
        return RawReading(point.name, ts_ns_of(value), val, quality)

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
                try:
                    await self._session(backoff, first)
                except AdapterError as exc:
                    self.status.read_errors += 1
                    self.status.last_error = str(exc)
                    log.info("%s", exc)
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
                    await asyncio.sleep(backoff.next_delay())
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _session(self, backoff: Backoff, first: bool) -> None:
        lost = asyncio.Event()
        async with self._session_lock:
            self._client = await self._open(lost)
        if not first:
            self.status.reconnects += 1
        self.status.connected = True
        client = self._client
        try:
            polled = await self._subscribe(client, lost)
        except _LINK_ERRORS as exc:
            raise DeviceUnavailable(f"device {self.device.id!r}: subscribing failed: {exc!r}") from None
        self.polled_points = {n for names in polled.values() for n in names}
        backoff.reset()
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(lost.wait())]
        pump = self._pump_task
        for interval, names in polled.items():
            tasks.append(asyncio.create_task(self._poll(client, interval, names)))
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

    async def _max_items_per_call(self, client: Client) -> int | None:
        limit = self.endpoint.max_items_per_call
        node = client.get_node(
            ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall
        )
        try:
            server_limit = int(await node.read_value() or 0)
        except (ua.UaError, TypeError, ValueError):
            server_limit = 0  # not published: no limit
        if server_limit > 0:
            limit = min(limit, server_limit) if limit else server_limit
        return limit

    async def _subscribe(self, client: Client, lost: asyncio.Event) -> dict[float, list[str]]:
        """Monitored items for every scan group; returns {interval: points to poll instead}."""
        polled: dict[float, list[str]] = {}
        if self.endpoint.mode == "poll":
            for group in self.device.scan_groups:
                polled.setdefault(group.interval_s, []).extend(group.points)
            return polled
        limit = await self._max_items_per_call(client)
        handler = _Handler(self, lost)
        calls = 0
        for group in self.device.scan_groups:
            period_ms = group.interval_s * 1000
            try:
                sub = await client.create_subscription(period_ms, handler)
            except ua.UaStatusCodeError as exc:
                log.warning("device %s: subscription refused (%s); polling instead", self.device.id, exc)
                polled.setdefault(group.interval_s, []).extend(group.points)
                continue
            names = list(group.points)
            step = limit or len(names) or 1
            for start in range(0, len(names), step):
                chunk = names[start : start + step]
                nodes = [client.get_node(self._nodes[n]) for n in chunk]
                results = await sub.subscribe_data_change(
                    nodes, sampling_interval=ua.Double(period_ms), queuesize=10
                )
                calls += 1
                for name, result in zip(chunk, results, strict=True):
                    if isinstance(result, ua.StatusCode):  # refused: read it at the scan interval
                        polled.setdefault(group.interval_s, []).append(name)
        self.status.extra["monitored_item_calls"] = float(calls)
        return polled

    async def _poll(self, client: Client, interval: float, names: list[str]) -> None:
        next_due = time.monotonic()
        while True:
            for reading in await self._read(client, names):
                self._push(reading)
            next_due += interval
            now = time.monotonic()
            if next_due < now:  # overran: skip missed cycles
                next_due = now + interval
            await asyncio.sleep(next_due - now)

    async def _read(self, client: Client, names: Sequence[str]) -> list[RawReading]:
        nodes = [client.get_node(self._nodes[n]) for n in names]
        self.status.requests += 1
        started = time.monotonic()
        try:
            values = await client.read_attributes(nodes)
        except _LINK_ERRORS as exc:
            raise DeviceUnavailable(f"device {self.device.id!r}: read failed: {exc!r}") from None
        self.status.last_rtt_s = time.monotonic() - started
        by_name = self.device.device_type.by_name
        return [self._reading(by_name[n], v) for n, v in zip(names, values, strict=True)]

    # -- one-off operations ----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _use_client(self) -> Any:
        """The running session's client, or a short-lived one when `run` has none open."""
        if self._closed:
            raise DeviceUnavailable(f"device {self.device.id!r}: connection closed")
        if self._client is not None:
            yield self._client
            return
        async with self._session_lock:
            client = await self._open()
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                await client.disconnect()

    def _point(self, name: str) -> PointSpec:
        spec = self.device.device_type.by_name.get(name)
        if spec is None or spec.opcua is None:
            raise ConfigError(f"device {self.device.id!r} has no opcua point {name!r}")
        return spec

    async def read_once(self, points: Sequence[str]) -> list[RawReading]:
        specs = [self._point(n) for n in points]
        async with self._use_client() as client:
            namespaces = await client.get_namespace_array()
            for spec in specs:
                self._nodes.setdefault(spec.name, self._node_id(spec, namespaces))
            return await self._read(client, [s.name for s in specs])

    async def write(self, point: str, value: bool | int | float) -> None:
        """Write a raw value with the variable's own data type."""
        spec = self._point(point)
        if not spec.writable:
            raise ConfigError(f"point {point!r} of device {self.device.id!r} is not writable")
        async with self._use_client() as client:
            try:
                node = client.get_node(self._node_id(spec, await client.get_namespace_array()))
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
                    f"device {self.device.id!r}: write {point}={value!r} refused: {exc}"
                ) from None
            except _LINK_ERRORS as exc:
                raise DeviceUnavailable(f"device {self.device.id!r}: write {point} failed: {exc!r}") from None

    async def close(self) -> None:
        self._closed = True
        await self._close_client()
