"""Certificates and SSL contexts for peer connections (PROTOCOL.md section 1, Transport).

Two certificate authorities exist:

- the *public network CA*, whose certificate and key ship inside the package
  (``trionode/peers/ca/public_ca.*``). It gives no trust: Python's ``ssl`` cannot request a
  client certificate and then accept an arbitrary self-signed one, so every node gets a
  certificate signed by this CA that the other side can check and hash. node_id = sha256 of the
  DER certificate.
- the *private CA* made by ``trionode init`` under a node's root. The farmer-harvester link and
  the RPC require client certificates signed by it, so only the owner's farmer commands its
  harvesters.

Contexts: the server always requests a client certificate (CERT_REQUIRED) and checks it against
the given CA; the client checks the server against the same CA without hostname checks (peers
are addressed by IP and certificates carry no names).
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.resources
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from trionode.wire import bytes32

__all__ = [
    "CertKeyPaths",
    "PUBLIC_CA_CRT",
    "PUBLIC_CA_KEY",
    "ensure_ca",
    "ensure_node_certificate",
    "generate_ca",
    "generate_signed_certificate",
    "make_client_context",
    "make_server_context",
    "node_id_of_certificate",
    "public_ca_paths",
]

PUBLIC_CA_CRT = "public_ca.crt"
PUBLIC_CA_KEY = "public_ca.key"

# Far enough in the future that no node has to care; the CA gives no trust anyway.
_NOT_AFTER = datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class CertKeyPaths:
    """Where one certificate and its private key live (PEM files)."""

    crt: Path
    key: Path

    def exist(self) -> bool:
        return self.crt.is_file() and self.key.is_file()


def public_ca_paths() -> CertKeyPaths:
    """The public network CA shipped in the package."""
    ca_dir = importlib.resources.files("trionode.peers") / "ca"
    return CertKeyPaths(Path(str(ca_dir / PUBLIC_CA_CRT)), Path(str(ca_dir / PUBLIC_CA_KEY)))


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: a millisecond to generate, small handshakes, supported by every OpenSSL.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_ca(common_name: str) -> tuple[bytes, bytes]:
    """A new self-signed CA: (certificate PEM, key PEM)."""
    key = _new_key()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trionode"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def local_alt_names() -> x509.SubjectAlternativeName:
    import ipaddress

    return x509.SubjectAlternativeName(
        [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
    )


def has_local_alt_names(cert_pem: bytes) -> bool:
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return "localhost" in ext.value.get_values_for_type(x509.DNSName)


def generate_signed_certificate(
    ca_cert_pem: bytes, ca_key_pem: bytes, common_name: str, *, local_names: bool = False
) -> tuple[bytes, bytes]:
    """A new leaf certificate signed by the CA, usable as server and client: (cert, key) PEM.

    ``local_names``: with a subjectAltName of localhost, 127.0.0.1 and ::1, so that HTTPS
    clients that check the host name accept it on loopback (the RPC's certificates).
    """
    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError("the CA key must be an elliptic-curve key")
    key = _new_key()
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "trionode"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.ExtendedKeyUsageOID.SERVER_AUTH, x509.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if local_names:
        cert = cert.add_extension(local_alt_names(), critical=False)
    signed = cert.sign(ca_key, hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically (a crash leaves no half key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def ensure_ca(paths: CertKeyPaths, common_name: str) -> bool:
    """Create the CA at ``paths`` unless both files exist. Returns True if it created them."""
    if paths.exist():
        return False
    if paths.crt.exists() or paths.key.exists():
        raise FileExistsError(
            f"half a CA at {paths.crt.parent}: one of {paths.crt.name} / {paths.key.name} is "
            "missing; restore it or remove the other"
        )
    crt, key = generate_ca(common_name)
    _write_private(paths.key, key)
    _write_private(paths.crt, crt)
    return True


def ensure_node_certificate(
    paths: CertKeyPaths, ca: CertKeyPaths, common_name: str, *, local_names: bool = False
) -> bool:
    """Create a node certificate signed by ``ca`` unless both files exist; True if created.

    With ``local_names`` a certificate without them (made by an earlier version) is replaced:
    it is signed by the root's own CA and nobody pins it.
    """
    if paths.exist():
        if not local_names or has_local_alt_names(paths.crt.read_bytes()):
            return False
        paths.crt.unlink()
        paths.key.unlink()
    if paths.crt.exists() or paths.key.exists():
        raise FileExistsError(
            f"half a certificate at {paths.crt.parent}: one of {paths.crt.name} / "
            f"{paths.key.name} is missing; restore it or remove the other"
        )
    crt, key = generate_signed_certificate(
        ca.crt.read_bytes(), ca.key.read_bytes(), common_name, local_names=local_names
    )
    _write_private(paths.key, key)
    _write_private(paths.crt, crt)
    return True


def node_id_of_certificate(cert: bytes) -> bytes32:
    """node_id = sha256 of the DER certificate (seed 002). Accepts DER or PEM."""
    if cert.lstrip().startswith(b"-----BEGIN"):
        cert = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
    return bytes32(hashlib.sha256(cert).digest())


def _base_context(purpose: ssl.Purpose, own: CertKeyPaths, ca_crt: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(purpose, cafile=str(ca_crt))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(own.crt), str(own.key))
    return ctx


def make_server_context(own: CertKeyPaths, ca_crt: Path) -> ssl.SSLContext:
    """Server side: present ``own``, require a client certificate signed by ``ca_crt``."""
    ctx = _base_context(ssl.Purpose.CLIENT_AUTH, own, ca_crt)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def make_client_context(own: CertKeyPaths, ca_crt: Path) -> ssl.SSLContext:
    """Client side: present ``own``, require the server's certificate to be signed by ``ca_crt``.

    No hostname check: peers are addressed by IP and node certificates carry no names; what
    identifies a peer is its node_id.
    """
    ctx = _base_context(ssl.Purpose.SERVER_AUTH, own, ca_crt)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
