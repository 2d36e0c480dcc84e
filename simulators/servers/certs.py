"""Self-signed OPC UA application certificates (OPC 10000-6 §6.2.2), generated once and persisted.

The certificate's SubjectAltName carries the application URI (which must equal the
ApplicationUri the application announces), the host names and 127.0.0.1. The key is RSA 2048 and
the signature SHA-256, as Basic256Sha256 requires. Files: `<name>.der` and `<name>.key.pem` (0600).
"""

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulators.servers import SimServerError

KEY_BITS = 2048
VALID_DAYS = 3650
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class CertPaths:
    cert: Path  # DER
    key: Path  # PEM, unencrypted, readable by the owner only


def generate(
    application_uri: str,
    common_name: str,
    hostnames: list[str] | None = None,
    days: int = VALID_DAYS,
) -> tuple[bytes, bytes]:
    """(certificate DER, private key PEM) for an application usable as client and server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    names = hostnames if hostnames is not None else sorted({"localhost", socket.gethostname()})
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    alt_names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt_names += [x509.DNSName(n) for n in names]
    alt_names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock differences
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.DER), key_pem


def application_uri_of(cert_der: bytes) -> str | None:
    cert = x509.load_der_x509_certificate(cert_der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def ensure(cert_dir: Path, application_uri: str, common_name: str, name: str = "server") -> CertPaths:
    """Reuse the persisted certificate if it fits the application URI and is not about to expire."""
    paths = CertPaths(cert_dir / f"{name}.der", cert_dir / f"{name}.key.pem")
    try:
        if paths.cert.exists() and paths.key.exists():
            der = paths.cert.read_bytes()
            expires = x509.load_der_x509_certificate(der).not_valid_after_utc
            if application_uri_of(der) == application_uri and expires - RENEW_BEFORE > dt.datetime.now(
                dt.UTC
            ):
                return paths
        cert_dir.mkdir(parents=True, exist_ok=True)
        der, key_pem = generate(application_uri, common_name)
        fd = os.open(paths.key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem)
        paths.cert.write_bytes(der)
    except (OSError, ValueError) as exc:
        raise SimServerError(f"certificate in {cert_dir}: {exc}") from exc
    return paths


def load_der(path: Path) -> bytes:
    """A certificate as DER, from a DER or PEM file."""
    try:
        data = path.read_bytes()
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
        x509.load_der_x509_certificate(data)
    except (OSError, ValueError) as exc:
        raise SimServerError(f"certificate {path}: {exc}") from exc
    return data
