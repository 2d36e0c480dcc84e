"""The simulator server's OPC UA application certificate and its trust list.

Generation and persistence are the adapters' (`adapters.opcua.certs`): one self-signed RSA 2048 /
SHA-256 certificate whose SubjectAltName URI equals the ApplicationUri, reused while it fits.
"""

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.errors import ConfigError
from adapters.opcua.certs import CertPaths, application_uri_of, ensure_certificate, generate
from simulators.servers import SimServerError

__all__ = ["CertPaths", "application_uri_of", "ensure", "generate", "load_der"]


def ensure(cert_dir: Path, application_uri: str, name: str = "server") -> CertPaths:
    """The persisted server certificate for `application_uri`, generated when missing or stale."""
    try:
        return ensure_certificate(cert_dir, application_uri, name)
    except ConfigError as exc:
        raise SimServerError(str(exc)) from exc


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
