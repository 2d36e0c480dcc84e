"""Opening an OPC UA session, with errors a plant engineer can act on.

Every failure after the socket opened closes what was opened (session, secure channel, socket), so
a retry loop never leaks server sessions. Foreign errors become `DeviceUnavailable` (the link) or
`DeviceRejected` (the server said no) whose text says what the server said and what to do, and
whose `reason` is a short label for metrics.

With security, the server's certificate is fetched first over the unsecured discovery channel
(GetEndpoints) and checked: against the pinned `server_certificate`, or by `server_trust` (tofu:
trusted on first use and pinned from then on; strict: only what `cert_dir/trusted/` holds).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.ua.ua_binary import nodeid_from_binary, struct_from_binary

from adapters.errors import AdapterError, ConfigError, DeviceRejected, DeviceUnavailable
from adapters.opcua.certs import (
    CertPaths,
    TrustStore,
    application_uri_of,
    describe,
    ensure_certificate,
    thumbprint,
    to_der,
)
from adapters.opcua.endpoint import OpcUaEndpoint
from adapters.opcua.nodes import status_name

log = logging.getLogger(__name__)

_MODES = {"sign": ua.MessageSecurityMode.Sign, "sign_encrypt": ua.MessageSecurityMode.SignAndEncrypt}
_POLICY_URI = SecurityPolicyBasic256Sha256.URI
# Foreign errors that mean "the server or the link failed" rather than "this request was refused".
LINK_ERRORS = (OSError, TimeoutError, ConnectionError, ua.UaError)
# Status codes that mean the server refused the gateway's certificate.
_CERT_REFUSED = {
    "BadCertificateUntrusted",
    "BadSecurityChecksFailed",
    "BadCertificateInvalid",
    "BadCertificateUriInvalid",
    "BadCertificateUseNotAllowed",
    "BadCertificateTimeInvalid",
    "BadCertificateIssuerRevocationUnknown",
    "BadCertificateRevocationUnknown",
    "BadCertificatePolicyCheckFailed",
}
_LOGIN_REFUSED = {"BadIdentityTokenRejected", "BadIdentityTokenInvalid", "BadUserAccessDenied"}
_REJECTED_HINT = (
    "where the server keeps rejected certificates (often pki/rejected/ or pki/rejected/certs/ of the "
    "server; node-opcua: certificates/rejected/) and move it to trusted"
)


@dataclass(frozen=True, slots=True)
class Context:
    """Who is connecting: for messages."""

    device_id: str
    endpoint: OpcUaEndpoint

    def prefix(self) -> str:
        return f"device {self.device_id!r} at {self.endpoint.url}"


def status_of(exc: BaseException) -> str | None:
    """The OPC UA status name inside a foreign error, if there is one."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return status_name(code)
    return None


def _own_certificate(ctx: Context, paths: CertPaths | None) -> str:
    if paths is None:
        return "the gateway's certificate"
    try:
        der = paths.cert.read_bytes()
    except OSError:
        return f"the gateway's certificate {paths.cert}"
    uri = application_uri_of(der)
    return f"the gateway's certificate {paths.cert} (thumbprint {thumbprint(der)}, URI {uri})"


def translate(ctx: Context, exc: BaseException, paths: CertPaths | None, step: str) -> AdapterError:
    """A foreign error while connecting as an adapter error that says what to do."""
    if isinstance(exc, AdapterError):
        return exc
    name = status_of(exc)
    where = ctx.prefix()
    if name in _CERT_REFUSED:
        return DeviceRejected(
            f"{where}: the server refused {_own_certificate(ctx, paths)} ({name}); trust it on the "
            f"server: look {_REJECTED_HINT}",
            "certificate",
        )
    if name in _LOGIN_REFUSED:
        user = f"user {ctx.endpoint.username!r}" if ctx.endpoint.auth == "username" else ctx.endpoint.auth
        return DeviceRejected(f"{where}: the server refused the login as {user} ({name})", "login")
    if name == "BadTooManySessions":
        return DeviceUnavailable(f"{where}: the server has no free session (BadTooManySessions)", "sessions")
    if name is not None:
        return DeviceRejected(f"{where}: {step} refused by the server ({name})", "refused")
    if isinstance(exc, TimeoutError):
        return DeviceUnavailable(f"{where}: no answer within {ctx.endpoint.timeout:g} s ({step})", "timeout")
    if isinstance(exc, ConnectionRefusedError):
        return DeviceUnavailable(f"{where}: connection refused (is the server running on that port?)")
    if isinstance(exc, OSError):
        return DeviceUnavailable(f"{where}: {step} failed: {exc.strerror or exc}")
    text = str(exc) or type(exc).__name__
    return DeviceUnavailable(f"{where}: {step} failed: {text}", "error")


_SERVICE_FAULT = 397  # ServiceFault_Encoding_DefaultBinary


def _hear_service_faults(client: Client) -> list[int]:
    """Status codes of ServiceFaults the server answers an OpenSecureChannel with.

    Some servers (node-opcua, for one) refuse an unknown client certificate with a ServiceFault in
    the OPN response, which asyncua cannot parse (it reports an AssertionError); the code the server
    sent is what the user needs. Hooks this client's protocol only; a no-op where asyncua differs.
    """
    heard: list[int] = []
    uaclient = client.uaclient
    make = getattr(uaclient, "_make_protocol", None)
    if make is None:
        return heard

    def make_protocol() -> Any:
        protocol = make()
        connection: Any = getattr(protocol, "_connection", None)
        receive = getattr(connection, "receive_from_header_and_body", None)
        if receive is None:
            return protocol

        def hearing(header: Any, buf: Any) -> Any:
            msg = receive(header, buf)
            if header.MessageType == ua.MessageType.SecureOpen and isinstance(msg, ua.Message):
                with contextlib.suppress(Exception):
                    body = msg.body()
                    type_id = nodeid_from_binary(body)
                    if type_id.Identifier == _SERVICE_FAULT:
                        heard.append(int(struct_from_binary(ua.ResponseHeader, body).ServiceResult.value))
            return msg

        connection.receive_from_header_and_body = hearing
        return protocol

    uaclient._make_protocol = make_protocol  # type: ignore[method-assign]
    return heard


class _ServerSaid(Exception):
    """What a server answered that asyncua could not parse: carries its status code."""

    def __init__(self, code: int) -> None:
        super().__init__(status_name(code))
        self.code = code


async def disconnect(client: Client, within_s: float) -> None:
    """Close session, channel and socket, whatever state the client is in."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.disconnect(), within_s)
    with contextlib.suppress(Exception):
        client.disconnect_socket()


async def _server_certificate(ctx: Context, mode: ua.MessageSecurityMode) -> bytes:
    """The server's certificate for Basic256Sha256 in this mode, from GetEndpoints."""
    ep = ctx.endpoint
    probe = Client(ep.url, timeout=ep.timeout)
    try:
        endpoints = await asyncio.wait_for(probe.connect_and_get_server_endpoints(), ep.timeout * 2)
    except Exception as exc:
        await disconnect(probe, ep.timeout)
        raise translate(ctx, exc, None, "GetEndpoints") from None
    offered = []
    for endpoint in endpoints:
        offered.append(f"{endpoint.SecurityPolicyUri.rsplit('#', 1)[-1]}/{endpoint.SecurityMode.name}")
        if endpoint.SecurityPolicyUri == _POLICY_URI and endpoint.SecurityMode == mode:
            chain: bytes = endpoint.ServerCertificate or b""
            return _first_certificate(chain)
    raise DeviceRejected(
        f"{ctx.prefix()}: the server offers no Basic256Sha256 {mode.name} endpoint "
        f"(it offers {', '.join(sorted(set(offered))) or 'none'}); change 'security'",
        "security",
    )


def _first_certificate(chain: bytes) -> bytes:
    """The leaf of a DER chain (servers may send their CA chain after it)."""
    if len(chain) < 4 or chain[0] != 0x30:
        return chain
    length_bytes = chain[1] & 0x7F if chain[1] & 0x80 else 0
    length = int.from_bytes(chain[2 : 2 + length_bytes], "big") if length_bytes else chain[1]
    return chain[: 2 + length_bytes + length]


def check_server_certificate(ctx: Context, der: bytes, store: TrustStore) -> None:
    """Raise DeviceRejected unless the server's certificate is pinned, trusted, or accepted by the policy."""
    ep = ctx.endpoint
    if ep.server_certificate is not None:
        try:
            pinned = to_der(ep.server_certificate.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the pinned server certificate: {exc}", file=str(ep.server_certificate)
            ) from None
        if der != pinned:
            raise DeviceRejected(
                f"{ctx.prefix()}: the server's certificate ({describe(der)}) is not the pinned one in "
                f"{ep.server_certificate} (thumbprint {thumbprint(pinned)})",
                "server_certificate",
            )
        return
    trusted = store.trusted()
    if der in trusted:
        return
    if ep.server_trust == "strict":
        path = store.reject(der)
        raise DeviceRejected(
            f"{ctx.prefix()}: the server's certificate ({describe(der)}) is not trusted; it was saved "
            f"as {path}: move it to {store.trusted_dir}/ to trust it",
            "server_certificate",
        )
    if ep.server_trust == "tofu":
        uri = application_uri_of(der)
        known = [c for c in trusted if application_uri_of(c) == uri]
        if known:
            path = store.reject(der)
            raise DeviceRejected(
                f"{ctx.prefix()}: the server {uri} now shows another certificate ({describe(der)}) than "
                f"the one trusted on first use (thumbprint {thumbprint(known[0])}); saved as {path}: "
                f"if the server's certificate really changed, move it to {store.trusted_dir}/ and "
                "remove the old one",
                "server_certificate",
            )
        path = store.trust(der)
        log.warning("device %s: trusted on first use: server certificate %s, saved as %s",
                    ctx.device_id, describe(der), path)  # fmt: skip
        return
    log.warning(
        "device %s: accepting the server certificate %s without checking it: set 'server_trust: tofu' "
        "or 'strict', or pin 'server_certificate'",
        ctx.device_id,
        describe(der),
    )


async def open_client(ctx: Context, lost: asyncio.Event | None = None) -> Client:
    """A connected client with an activated session; on any failure nothing stays open."""
    ep = ctx.endpoint
    client = Client(ep.url, timeout=ep.timeout, watchdog_intervall=ep.watchdog_s)
    client.application_uri = ep.application_uri
    client.name = client.description = f"plantproof gateway ({ctx.device_id})"
    client.session_timeout = int(ep.session_timeout_s * 1000)
    paths: CertPaths | None = None
    step = "connect"
    heard = _hear_service_faults(client)
    try:
        if ep.security != "none":
            mode = _MODES[ep.security]
            paths = await asyncio.to_thread(ensure_certificate, ep.cert_dir, ep.application_uri)
            step = "GetEndpoints"
            server_der = await _server_certificate(ctx, mode)
            await asyncio.to_thread(check_server_certificate, ctx, server_der, TrustStore(ep.cert_dir))
            step = "the secure channel"
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=str(paths.cert),
                private_key=str(paths.key),
                server_certificate=server_der,
                mode=mode,
            )
            if ep.auth == "certificate":
                await client.load_client_certificate(str(paths.cert))
                await client.load_private_key(paths.key)
        if ep.auth == "username" and ep.username and ep.password is not None:
            client.set_user(ep.username)
            client.set_password(ep.password.get_secret_value())
        step = "opening a session"
        # Cancelled mid-handshake, asyncua would leave a created session on the server: the attempt
        # is let finish (bounded by its timeout) so that it can be closed properly.
        attempt = asyncio.ensure_future(asyncio.wait_for(client.connect(), ep.timeout * 3))
        try:
            await asyncio.shield(attempt)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await attempt
            raise
    except BaseException as exc:
        await disconnect(client, ep.timeout)
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
            raise
        if heard and status_of(exc) is None:
            exc = _ServerSaid(heard[-1])
        raise translate(ctx, exc, paths, step) from None
    if lost is not None:

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
    return client


def revised(requested_ms: float, result: Any) -> float | None:
    """The sampling interval the server chose for a monitored item, when it is not the one asked."""
    got = getattr(result, "RevisedSamplingInterval", None)
    if got is None or abs(float(got) - requested_ms) < 1e-6 or float(got) <= 0:
        return None
    return float(got)
