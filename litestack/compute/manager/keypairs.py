"""Key pairs: imported (ssh-rsa, ecdsa, ed25519 or an x509 certificate) or generated, per user."""

from __future__ import annotations

import base64
import datetime
import hashlib
from typing import Any

from sqlalchemy import func, select

from litestack.common import errors
from litestack.common.db import Database
from litestack.compute.manager.flavors import now
from litestack.compute.models import KeyPair


class KeypairNotFound(errors.NotFound):
    pass


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


def ssh_fingerprint(public_key: str) -> str:
    """The MD5 fingerprint of an OpenSSH public key (what ``ssh-keygen -l -E md5`` prints); loads
    the key with ``cryptography`` first, so that a malformed one is refused."""
    from cryptography.hazmat.primitives import serialization

    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except Exception:  # whatever untrusted key text makes the parser raise, it is not a key
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def x509_fingerprint(pem: str) -> str:
    """The SHA-1 fingerprint of an x509 certificate (PEM), as Nova computes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except Exception:  # as above: any parser failure means the certificate is invalid
        raise errors.BadRequest("Keypair data is invalid: failed to generate fingerprint") from None
    return _colon_hex(cert.fingerprint(hashes.SHA1()))  # noqa: S303 - Nova's fingerprint format


def generate(key_type: str, name: str) -> tuple[str, str]:
    """A new key pair: (private key PEM, public key: OpenSSH line or x509 certificate PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    if key_type == "ssh":
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH).decode()
        return private, f"{public} Generated-by-Nova"
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()


class Keypairs:
    def __init__(self, db: Database, quota: int) -> None:
        self.db = db
        self.quota = quota

    def create(self, user_id: str, name: str, key_type: str, public_key: str | None) -> tuple[KeyPair, str | None]:
        private = None
        if public_key is None:
            private, public_key = generate(key_type, name)
        fingerprint = x509_fingerprint(public_key) if key_type == "x509" else ssh_fingerprint(public_key)
        with self.db.writer() as s:
            if s.scalar(select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name)) is not None:
                raise errors.Conflict(f"Key pair '{name}' already exists.")
            count = s.scalar(select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)) or 0
            if 0 <= self.quota <= count:
                raise errors.Forbidden("Quota exceeded, too many key pairs.")
            kp = KeyPair(user_id=user_id, name=name, type=key_type, fingerprint=fingerprint,
                         public_key=public_key.strip() if key_type != "x509" else public_key, created_at=now())
            s.add(kp)
            s.flush()
            s.refresh(kp)
            return kp, private

    def get(self, user_id: str, name: str) -> KeyPair:
        with self.db.reader() as s:
            kp = s.scalar(select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name))
            if kp is None:
                raise KeypairNotFound(f"Keypair {name} not found for user {user_id}")
            return kp

    def find(self, user_id: str, limit: int | None = None, marker: str | None = None) -> list[KeyPair]:
        stmt = select(KeyPair).where(KeyPair.user_id == user_id).order_by(KeyPair.name)
        if marker is not None:
            stmt = stmt.where(KeyPair.name > marker)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.reader() as s:
            return list(s.scalars(stmt))

    def delete(self, user_id: str, name: str) -> None:
        with self.db.writer() as s:
            kp = s.scalar(select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name))
            if kp is None:
                raise KeypairNotFound(f"Keypair {name} not found for user {user_id}")
            s.delete(kp)

    def count(self, user_id: str) -> int:
        with self.db.reader() as s:
            return int(s.scalar(select(func.count()).select_from(KeyPair).where(KeyPair.user_id == user_id)) or 0)


def keypair_view(kp: Any, private: str | None = None, with_details: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"name": kp.name, "public_key": kp.public_key, "fingerprint": kp.fingerprint,
                            "type": kp.type}
    if with_details:
        body.update({"user_id": kp.user_id, "created_at": kp.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
                     "deleted": False, "deleted_at": None, "updated_at": None, "id": kp.id})
    if private is not None:
        body["private_key"] = private
    return body
