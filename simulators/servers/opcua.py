"""OPC UA server serving a plant model: one object per device, one variable per point.

Node ids are exactly the YAML's `opcua.node` with `{device}` replaced, in the namespace the node
names (`urn:plantproof:sim` for the shipped types). Variables carry the raw device value with the
data type of the point's dtype (see `simulators.servers`), stamped with the model time as
SourceTimestamp. A refresh task recomputes them every `refresh_s` of wall time and writes those whose
value or status changed: like a device that timestamps changes, an unchanged value keeps the source
timestamp of its last change (a poll reads it again, a subscription notifies nothing). Writable
points start at the model's value and then hold what clients write.

Security: "none", "sign", "sign_encrypt" (Basic256Sha256) or "all" of them, with a generated
certificate persisted in `cert_dir`. Client certificates are accepted only when trusted (listed,
or found in `cert_dir/trusted/`). With `users`, a user name and password are required.
"""

import asyncio
import contextlib
import datetime as dt
import hmac
import logging
import socket
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, cast

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.opcua.address import opcua_of
from devicemodel.devicetype import PointSpec
from simulators.servers import (
    NAMESPACE_URI,
    DeviceLike,
    EngValue,
    ModelClock,
    RawValue,
    RefreshTicks,
    SimServerError,
    ValueSource,
    device_faults,
    expected_values,
    find_device,
    raw_values,
    unreadable,
)
from simulators.servers import certs as certs_mod

log = logging.getLogger(__name__)

SECURITY_MODES = ("none", "sign", "sign_encrypt", "all")
_POLICIES = {
    "none": [ua.SecurityPolicyType.NoSecurity],
    "sign": [ua.SecurityPolicyType.Basic256Sha256_Sign],
    "sign_encrypt": [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt],
    "all": [
        ua.SecurityPolicyType.NoSecurity,
        ua.SecurityPolicyType.Basic256Sha256_Sign,
        ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ],
}
VARIANT_TYPES = {
    "bool": ua.VariantType.Boolean,
    "int16": ua.VariantType.Int16,
    "uint16": ua.VariantType.UInt16,
    "int32": ua.VariantType.Int32,
    "uint32": ua.VariantType.UInt32,
    "int64": ua.VariantType.Int64,
    "float32": ua.VariantType.Float,
    "float64": ua.VariantType.Double,
    "string": ua.VariantType.String,
}
APPLICATION_URI = "urn:plantproof:sim:server"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def ns_to_datetime(t_ns: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=t_ns // 1000)


def datetime_to_ns(value: dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


@dataclass(frozen=True, slots=True)
class _Var:
    device: DeviceLike
    point: PointSpec
    nodeid: ua.NodeId
    vtype: ua.VariantType


class _Users(UserManager):
    """Users with passwords; anything else (anonymous, unknown, wrong password) is refused."""

    def __init__(self, users: dict[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is None or username not in self._users:
            return None
        if not hmac.compare_digest(self._users[username].encode(), (password or "").encode()):
            return None
        return User(role=UserRole.User, name=username)


def node_id(identifier: int | str | uuid.UUID, namespace_index: int) -> ua.NodeId:
    return ua.NodeId(cast(Any, identifier), cast(Any, namespace_index))


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _python_value(point: PointSpec, raw: RawValue) -> RawValue:
    if point.dtype == "bool":
        return bool(raw)
    if point.dtype == "string":
        return str(raw)
    if point.dtype.startswith("float"):
        return float(raw)
    return int(raw)


class SimOpcUaServer:
    """OPC UA server for the devices of a value source. Restartable: stop() then start() rebuilds
    the server on the same port, keeping the values clients wrote."""

    def __init__(
        self,
        source: ValueSource,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        security: str = "none",
        cert_dir: Path | None = None,
        users: dict[str, str] | None = None,
        trusted_client_certs: Sequence[Path] = (),
        *,
        t0_ns: int | None = None,
        refresh_s: float = 0.1,
        devices: Sequence[str] | None = None,
        application_uri: str = APPLICATION_URI,
    ) -> None:
        if security not in SECURITY_MODES:
            raise SimServerError(f"security must be one of {', '.join(SECURITY_MODES)}, got {security!r}")
        self.source, self.host, self.port, self.security = source, host, port, security
        self.users, self.refresh_s, self.application_uri = users, refresh_s, application_uri
        self.clock = ModelClock(speed, t0_ns)
        self.devices = (
            [find_device(source, d) for d in devices] if devices is not None else list(source.devices)
        )
        self.namespace_uri = NAMESPACE_URI
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if cert_dir is None and security != "none":
            self._tmp = tempfile.TemporaryDirectory(prefix="plantproof-opcua-")
            cert_dir = Path(self._tmp.name)
        self.cert_dir = cert_dir
        self._trusted_paths = list(trusted_client_certs)
        self._trusted: set[bytes] = set()
        self._vars = self._plan()
        self._by_device: dict[str, list[_Var]] = {}
        uris = {ua_addr.namespace_uri() for v in self._vars if (ua_addr := opcua_of(v.point))}
        if NAMESPACE_URI not in uris and uris:
            self.namespace_uri = sorted(uris)[0]
        self._held: dict[str, dict[str, RawValue]] = {d.id: {} for d in self.devices}
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.model_ns = self.clock.now_ns()
        self.refreshes = 0
        self.refresh_errors = 0
        self.rejected_certificates = 0
        self.ticks = RefreshTicks()
        self._status: dict[str, int] = {}
        self._served: dict[ua.NodeId, tuple[RawValue, int]] = {}  # what each variable holds now

    def _plan(self) -> list[_Var]:
        """Every (device, point) with its node id; namespace indexes are filled in at start."""
        out: list[_Var] = []
        seen: dict[tuple[str, str, str], str] = {}
        for device in self.devices:
            for point in device.device_type.points:
                ua_addr = opcua_of(point)
                if ua_addr is None:
                    continue
                kind, ident = ua_addr.identifier(device.id)
                key = (ua_addr.namespace_uri(), kind, ident)
                if key in seen:
                    raise SimServerError(
                        f"device {device.id!r} point {point.name!r}: node {kind}={ident} is also {seen[key]}"
                    )
                seen[key] = f"{device.id}.{point.name}"
                out.append(_Var(device, point, ua.NodeId(), VARIANT_TYPES[point.dtype]))
        if not out:
            raise SimServerError("no device has OPC UA points to serve")
        return out

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/"

    @property
    def running(self) -> bool:
        return self._server is not None

    def certificate_path(self) -> Path | None:
        """The server's certificate (DER), once generated."""
        if self.cert_dir is None:
            return None
        path = self.cert_dir / "server.der"
        return path if path.exists() else None

    def _load_trusted(self) -> None:
        paths = list(self._trusted_paths)
        if self.cert_dir is not None and (self.cert_dir / "trusted").is_dir():
            paths += sorted(p for p in (self.cert_dir / "trusted").iterdir() if p.suffix in (".der", ".pem"))
        self._trusted = {certs_mod.load_der(p) for p in paths}

    async def _validate(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        if cert.public_bytes(serialization.Encoding.DER) not in self._trusted:
            self.rejected_certificates += 1
            log.warning(
                "refused untrusted client certificate %s (%s)",
                cert.subject.rfc4514_string(),
                app.ApplicationUri,
            )
            raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    async def _build(self, server: Server) -> None:
        objects = server.nodes.objects
        indexes: dict[str, int] = {}
        for var in self._vars:
            ua_addr = opcua_of(var.point)
            assert ua_addr is not None
            uri = ua_addr.namespace_uri()
            if uri not in indexes:
                indexes[uri] = await server.register_namespace(uri)
        main_idx = indexes.get(self.namespace_uri, next(iter(indexes.values())))
        taken = set()
        built: list[_Var] = []
        for var in self._vars:
            ua_addr = opcua_of(var.point)
            assert ua_addr is not None
            kind, ident = ua_addr.identifier(var.device.id)
            idx = indexes[ua_addr.namespace_uri()]
            value: int | str | uuid.UUID = ident
            try:
                value = int(ident) if kind == "i" else uuid.UUID(ident) if kind == "g" else ident
            except ValueError as exc:
                raise SimServerError(f"point {var.point.name!r}: bad node id {kind}={ident}: {exc}") from exc
            taken.add((idx, value))
            built.append(_Var(var.device, var.point, node_id(value, idx), var.vtype))
        self._vars = built
        self._by_device = {d.id: [v for v in built if v.device is d] for d in self.devices}
        t_ns = self.clock.now_ns()
        for device in self.devices:
            object_id = node_id(device.id, main_idx) if (main_idx, device.id) not in taken else main_idx
            obj = await objects.add_object(object_id, ua.QualifiedName(device.id, main_idx))
            raws = self._raws(device, t_ns)
            for var in self._by_device[device.id]:
                raw = _python_value(var.point, raws[var.point.name])
                node = await obj.add_variable(
                    var.nodeid,
                    ua.QualifiedName(var.point.name, main_idx),
                    ua.Variant(raw, var.vtype),
                    var.vtype,
                )
                if var.point.writable:
                    await node.set_writable()
                    self._held[device.id].setdefault(var.point.name, raw)
        await self._write_values(server, t_ns, include_writable=True)

    def _raws(self, device: DeviceLike, t_ns: int) -> dict[str, RawValue]:
        return raw_values(device.device_type, self.source.values_at(device.id, t_ns), self._held[device.id])

    async def _write_values(self, server: Server, t_ns: int, include_writable: bool = False) -> None:
        now = cast(Any, dt.datetime.now(dt.UTC))
        for device in self.devices:
            raws = self._raws(device, t_ns)
            code = self._status.get(device.id, ua.StatusCodes.Good)
            if unreadable(self.source, device.id, t_ns):  # fault: the session works, reads do not
                code = ua.StatusCodes.BadNotReadable
            status = ua.StatusCode(ua.UInt32(code))
            skew = device_faults(self.source, device.id).skew_ns  # fault: the device clock is off
            stamp = cast(Any, ns_to_datetime(t_ns + skew))
            for var in self._by_device[device.id]:
                if var.point.writable and not include_writable:
                    continue  # holds what a client wrote
                raw = _python_value(var.point, raws[var.point.name])
                if not include_writable and self._served.get(var.nodeid) == (raw, code):
                    continue  # unchanged: keeps the timestamp of its last change
                self._served[var.nodeid] = (raw, code)
                data = ua.DataValue(
                    ua.Variant(raw, var.vtype), status, SourceTimestamp=stamp, ServerTimestamp=now
                )
                await server.write_attribute_value(var.nodeid, data)
        self.model_ns = t_ns
        self.refreshes += 1
        self.ticks.tick()

    def _read_held(self) -> None:
        if self._server is None:
            return
        for var in self._vars:
            if var.point.writable:
                dv = self._server.read_attribute_value(var.nodeid)
                if dv.Value is not None and dv.Value.Value is not None:
                    self._held[var.device.id][var.point.name] = dv.Value.Value

    def set_status(self, device_id: str, status: str = "good") -> None:
        """Fault switch: serve a device's variables with status good, uncertain or bad from the next
        refresh on (values keep coming; a client maps the status to quality)."""
        codes = {
            "good": ua.StatusCodes.Good,
            "uncertain": ua.StatusCodes.UncertainLastUsableValue,
            "bad": ua.StatusCodes.BadCommunicationError,
        }
        if status not in codes:
            raise SimServerError(f"status must be one of {', '.join(codes)}, got {status!r}")
        if device_id not in self._held:
            raise SimServerError(f"device {device_id!r} is not served here")
        self._status[device_id] = codes[status]

    async def update_now(self) -> None:
        """Rewrite every variable from the model at the current model time."""
        if self._server is not None:
            await self._write_values(self._server, self.clock.now_ns())

    async def wait_refresh(self, count: int = 1, timeout_s: float = 30.0) -> None:
        """Return after `count` more refreshes (raises SimServerError after timeout_s each)."""
        await self.ticks.wait(count, timeout_s)

    def expected(self, device_id: str, t_ns: int | None = None) -> dict[str, EngValue]:
        """Engineering values a client decodes at model time t (default: the values served now)."""
        device = find_device(self.source, device_id)
        if device_id not in self._held:
            raise SimServerError(f"device {device_id!r} is not served here")
        self._read_held()
        t = self.model_ns if t_ns is None else t_ns
        return expected_values(device.device_type, self.source.values_at(device_id, t), self._held[device_id])

    def node_ids(self, device_id: str) -> dict[str, str]:
        """Point name -> node id as 'nsu=<uri>;s=<id>' (what the YAML says, device filled in)."""
        out = {}
        for var in self._vars:
            ua_addr = opcua_of(var.point)
            if var.device.id == device_id and ua_addr is not None:
                kind, ident = ua_addr.identifier(device_id)
                out[var.point.name] = f"nsu={ua_addr.namespace_uri()};{kind}={ident}"
        return out

    async def start(self) -> None:
        if self._server is not None:
            return
        if self.port == 0:
            self.port = free_port(self.host)
        server = Server(user_manager=_Users(self.users) if self.users is not None else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("plantproof simulated plant")
        await server.set_application_uri(self.application_uri)
        server.set_security_policy(_POLICIES[self.security])
        if self.security != "none":
            assert self.cert_dir is not None
            paths = certs_mod.ensure(self.cert_dir, self.application_uri)
            await server.load_certificate(str(paths.cert))
            await server.load_private_key(str(paths.key))
            self._load_trusted()
            server.set_certificate_validator(self._validate)
        tokens: list[type] = (
            [ua.UserNameIdentityToken] if self.users is not None else [ua.AnonymousIdentityToken]
        )
        server.set_identity_tokens(tokens)
        await self._build(server)
        try:
            await server.start()
        except OSError as exc:
            raise SimServerError(f"OPC UA server cannot listen on {self.host}:{self.port}: {exc}") from exc
        self._server = server
        self._task = asyncio.create_task(self._refresh_loop(), name=f"opcua-refresh-{self.port}")

    async def stop(self) -> None:
        self._read_held()
        task, server = self._task, self._server
        self._task = self._server = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if server is not None:
            await server.stop()

    async def close(self) -> None:
        await self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    async def _refresh_loop(self) -> None:
        while self._server is not None:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.update_now()
            except Exception:  # a model error must not stop the server; it is counted, logged sparsely
                self.refresh_errors += 1
                if self.refresh_errors % 100 == 1:
                    log.exception("OPC UA refresh failed (%d failures so far)", self.refresh_errors)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
