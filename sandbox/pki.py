"""The sandbox's own certificate authority: serving certificates for its local TLS endpoints.

One CA per sandbox directory (``<sandbox dir>/node/pki/ca.crt``); certificates are issued for names and IPs on
this machine only (the webhook on 127.0.0.1, the STS relay that cluster DNS maps ``sts.<region>.amazonaws.com``
to). Pods that must trust it get the CA file through the standard ``AWS_CA_BUNDLE`` variable. Needs the
``cryptography`` package (in the project's .venv); imported lazily so a kwok-only sandbox does not need it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

VALIDITY_DAYS = 365


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _write(path: str, data: bytes, mode: int = 0o644) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


def ensure_ca(directory: str) -> tuple[str, str]:
    """(ca.crt, ca.key) in ``directory``, created once."""
    from cryptography import x509  # noqa: PLC0415 - optional dependency
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    crt, key_path = os.path.join(directory, "ca.crt"), os.path.join(directory, "ca.key")
    try:
        with open(crt, "rb") as handle:
            existing = x509.load_pem_x509_certificate(handle.read())
        with open(key_path, "rb") as handle:
            serialization.load_pem_private_key(handle.read(), password=None)
        if existing.not_valid_after_utc > _now() + datetime.timedelta(days=2):
            return crt, key_path
    except (OSError, ValueError):
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tracing.xray sandbox CA (local only)")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=VALIDITY_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(crt, cert.public_bytes(serialization.Encoding.PEM))
    return crt, key_path


def issue(directory: str, name: str, names: list[str]) -> tuple[str, str]:
    """A serving certificate ``<name>.crt``/``.key`` for DNS names and IP addresses, signed by the sandbox CA."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

    ca_crt, ca_key = ensure_ca(directory)
    with open(ca_crt, "rb") as handle:
        ca_cert = x509.load_pem_x509_certificate(handle.read())
    with open(ca_key, "rb") as handle:
        ca_private = serialization.load_pem_private_key(handle.read(), password=None)
    crt_path, key_path = os.path.join(directory, f"{name}.crt"), os.path.join(directory, f"{name}.key")
    if _reusable(crt_path, key_path, ca_cert, names):
        return crt_path, key_path
    sans = []
    for item in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(item)))
        except ValueError:
            sans.append(x509.DNSName(item))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(_now() - datetime.timedelta(minutes=5))
            .not_valid_after(_now() + datetime.timedelta(days=VALIDITY_DAYS))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_private, hashes.SHA256()))
    _write(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(crt_path, cert.public_bytes(serialization.Encoding.PEM))
    return crt_path, key_path


def _reusable(crt_path: str, key_path: str, ca_cert, names: list[str]) -> bool:
    """An existing certificate issued by this CA for exactly these names, valid for another day, with its key."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    try:
        with open(crt_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
        with open(key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        cert.verify_directly_issued_by(ca_cert)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        have = {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))
        return (have == set(names) and cert.not_valid_after_utc > _now() + datetime.timedelta(days=1)
                and key.public_key().public_numbers() == cert.public_key().public_numbers())
    except Exception:  # noqa: BLE001 - anything unreadable or mismatched is replaced
        return False
