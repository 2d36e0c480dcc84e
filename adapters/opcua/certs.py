"""The gateway's OPC UA application certificate: generated once, persisted, reused.

OPC UA requires the certificate's SubjectAltName URI to equal the ApplicationUri the client
announces; a persisted certificate whose URI no longer matches (the configuration changed), or that
expires within 30 days, is replaced. RSA 2048 with SHA-256, as Basic256Sha256 requires. Files:
`<name>.der` and `<name>.key.pem` (mode 0600).
"""

import datetime as dt
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from adapters.errors import ConfigError

KEY_BITS = 2048
VALID_DAYS = 3650
RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class CertPaths:
    cert: Path  # DER
    key: Path  # PEM, unencrypted, owner-only


def generate(
    application_uri: str, common_name: str, hostnames: list[str] | None = None
) -> tuple[bytes, bytes]:
    """(certificate DER, private key PEM) of a self-signed application certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    names = hostnames if hostnames is not None else sorted({"localhost", socket.gethostname()})
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    alt += [x509.DNSName(n) for n in names]
    alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=True,
        data_encipherment=True,
        key_agreement=False,
        key_cert_sign=True,  # self-signed: the certificate signs itself
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock differences
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.DER), pem


def application_uri_of(der: bytes) -> str | None:
    """The URI in the certificate's SubjectAltName (the ApplicationUri it was issued for)."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _usable(paths: CertPaths, application_uri: str) -> bool:
    if not (paths.cert.is_file() and paths.key.is_file()):
        return False
    try:
        der = paths.cert.read_bytes()
        cert = x509.load_der_x509_certificate(der)
    except (OSError, ValueError):
        return False
    fresh = cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > RENEW_BEFORE
    return fresh and application_uri_of(der) == application_uri


def ensure_certificate(cert_dir: Path, application_uri: str, name: str = "gateway") -> CertPaths:
    """The persisted certificate for `application_uri`, generating (or replacing) it when needed."""
    paths = CertPaths(cert_dir / f"{name}.der", cert_dir / f"{name}.key.pem")
    if _usable(paths, application_uri):
        return paths
    try:
        cert_dir.mkdir(parents=True, exist_ok=True)
        der, pem = generate(application_uri, f"plantproof {name}")
        tmp_key = paths.key.with_suffix(".tmp")
        fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp_key, paths.key)
        tmp_cert = paths.cert.with_suffix(".tmp")
        tmp_cert.write_bytes(der)
        os.replace(tmp_cert, paths.cert)
    except OSError as exc:
        raise ConfigError(f"cannot write the OPC UA certificate: {exc}", file=str(cert_dir)) from None
    return paths


def to_der(data: bytes) -> bytes:
    """A certificate as DER, from DER or PEM bytes; ValueError when it is neither."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(serialization.Encoding.DER)
    x509.load_der_x509_certificate(data)
    return data


def thumbprint(der: bytes) -> str:
    """The SHA-1 thumbprint OPC UA tools show for a certificate (hex, upper case, colon-separated)."""
    digest = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def describe(der: bytes) -> str:
    """'CN=..., URI urn:..., thumbprint AB:CD:...' for log lines and errors."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
    except ValueError:
        return f"an unreadable certificate (thumbprint {thumbprint(der)})"
    return f"{subject}, URI {application_uri_of(der)}, thumbprint {thumbprint(der)}"


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Server certificates the gateway trusts (`<cert_dir>/trusted/`) or refused (`.../rejected/`).

    Files are named by thumbprint (`<hex>.der`), so an operator trusts a rejected server certificate
    by moving its file from rejected/ to trusted/.
    """

    root: Path

    @property
    def trusted_dir(self) -> Path:
        return self.root / "trusted"

    @property
    def rejected_dir(self) -> Path:
        return self.root / "rejected"

    def trusted(self) -> list[bytes]:
        if not self.trusted_dir.is_dir():
            return []
        out = []
        for path in sorted(self.trusted_dir.iterdir()):
            if path.suffix.lower() in (".der", ".pem", ".crt"):
                try:
                    out.append(to_der(path.read_bytes()))
                except (OSError, ValueError):
                    continue  # not a certificate: ignored, like any stray file
        return out

    def _file(self, folder: Path, der: bytes) -> Path:
        return folder / f"{thumbprint(der).replace(':', '').lower()}.der"

    def _write(self, folder: Path, der: bytes) -> Path:
        path = self._file(folder, der)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(der)
            os.replace(tmp, path)
        except OSError as exc:
            raise ConfigError(f"cannot write a server certificate: {exc}", file=str(folder)) from None
        return path

    def trust(self, der: bytes) -> Path:
        self._file(self.rejected_dir, der).unlink(missing_ok=True)
        return self._write(self.trusted_dir, der)

    def reject(self, der: bytes) -> Path:
        return self._write(self.rejected_dir, der)
