"""A model server's secrets for an actor on a node that shares no filesystem with the driver.

Why: Ray keeps task arguments (and results) in its object store and GCS, where anyone with
access to the cluster can read them, so a key must not travel in clear. With a shared
filesystem the driver writes the key as a 0600 file the actor reads; without one, the actor
makes a key pair, hands out only the public half, and the driver sends the secrets sealed to it
(X25519 key agreement, HKDF-SHA256, ChaCha20-Poly1305): only that actor process can open them,
and it writes them as 0600 files on its own node.
"""

from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"vlmhb-ray-executor sealed secrets v1"
_RAW = {"encoding": serialization.Encoding.Raw, "format": serialization.PublicFormat.Raw}


def new_private_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_bytes(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(**_RAW)


def _key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(shared)


def seal(secrets: dict[str, str], recipient: bytes) -> bytes:
    """``secrets`` readable only by the holder of the private key of ``recipient``."""
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient))
    nonce = os.urandom(12)
    sealed = ChaCha20Poly1305(_key(shared)).encrypt(nonce, json.dumps(secrets).encode(), _INFO)
    return public_bytes(ephemeral) + nonce + sealed


def open_sealed(blob: bytes, private: X25519PrivateKey) -> dict[str, str]:
    """The secrets ``seal`` sealed to this key (raises if the blob was altered)."""
    sender, nonce, sealed = blob[:32], blob[32:44], blob[44:]
    shared = private.exchange(X25519PublicKey.from_public_bytes(sender))
    return json.loads(ChaCha20Poly1305(_key(shared)).decrypt(nonce, sealed, _INFO))
