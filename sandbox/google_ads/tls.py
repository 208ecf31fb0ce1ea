"""A self-signed TLS certificate for the sandbox's gRPC server.

The google-ads client always opens a TLS channel, so the sandbox must serve TLS, and the
client trusts it only through ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, which gRPC reads once per
process. Reusing one certificate per directory keeps that single trust root valid for every
server a process starts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_HOSTS = ("localhost",)
_IPS = ("127.0.0.1", "::1")
_MIN_REMAINING = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """PEM paths; the certificate is its own trust root, so it doubles as the CA file."""

    cert_path: Path
    key_path: Path


def ensure_self_signed_cert(directory: Path) -> TlsFiles:
    """Create ``cert.pem``/``key.pem`` in ``directory``, or reuse them if still good.

    A file lock makes concurrent test workers agree on one key pair.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    with open(directory / ".tls.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _usable(files):
            _write_new(files)
    return files


def _usable(files: TlsFiles) -> bool:
    if not (files.cert_path.exists() and files.key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
        key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    pair_matches = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fresh = cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > _MIN_REMAINING
    return pair_matches and fresh and "localhost" in sans.get_values_for_type(x509.DNSName)


def _write_new(files: TlsFiles) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName(h) for h in _HOSTS] + [x509.IPAddress(ipaddress.ip_address(i)) for i in _IPS]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(files.key_path, key_pem, mode=0o600)
    _atomic_write(files.cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _atomic_write(path: Path, content: bytes, mode: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    os.replace(tmp, path)
