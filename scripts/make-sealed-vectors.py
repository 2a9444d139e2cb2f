#!/usr/bin/env python3
"""Writes docs/sealed-format-vectors.json: known answers for docs/sealed-format.md.

The expected values are computed here with Python's `cryptography` package, a third
implementation beside the Swift (OpenSSL) and JavaScript (WebCrypto) ones that the tests
check against these vectors. Inputs are fixed, so the file is the same on every run.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hkdf(ikm, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def point(private_key):
    n = private_key.public_key().public_numbers()
    return b"\x04" + n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")


def key_from(d_hex):
    return ec.derive_private_key(int(d_hex, 16), ec.SECP256R1())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "sealed-format-vectors.json")
    installation_salt = bytes(range(32))
    address = "bob@ext.example"
    password = "correct horse battery staple"
    iterations = 600_000
    login_salt = b"spoolrun/v1/login" + installation_salt + address.encode()
    master = hashlib.pbkdf2_hmac("sha256", password.encode(), login_salt, iterations, 32)
    locator = hkdf(master, b"", b"spoolrun/v1/locator").hex()
    wrap_key = hkdf(master, b"", b"spoolrun/v1/wrap")

    recipient_d = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
    recipient = key_from(recipient_d)
    mailbox = "5f0c2a9e81d44b7c9a31e0f2b6d8c471"
    bundle_nonce = bytes.fromhex("000102030405060708090a0b")
    wrapped = AESGCM(wrap_key).encrypt(bundle_nonce, bytes.fromhex(recipient_d), ("spoolrun/v1/bundle|" + mailbox).encode())
    bundle = {"v": 1, "mailbox": mailbox, "pub": b64u(point(recipient)), "nonce": b64u(bundle_nonce), "wrapped": b64u(wrapped)}
    bundle_json = '{"v":1,"mailbox":"%s","pub":"%s","nonce":"%s","wrapped":"%s"}' % (
        bundle["mailbox"], bundle["pub"], bundle["nonce"], bundle["wrapped"])

    ephemeral_d = "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534"
    ephemeral = key_from(ephemeral_d)
    shared = ephemeral.exchange(ec.ECDH(), recipient.public_key())
    object_key = hkdf(shared, point(ephemeral) + point(recipient), b"spoolrun/v1/seal")
    nonce = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
    context = {"mailbox": mailbox, "message": "m-2026-11-25-0001", "object": "body.json"}
    aad = "spoolrun/v1/object|%s|%s|%s" % (context["mailbox"], context["message"], context["object"])
    plaintext = "Grüße, Bob! Привет. 🔐 This is the sealed body.".encode()
    sealed = b"SPR1" + point(ephemeral) + nonce + AESGCM(object_key).encrypt(nonce, plaintext, aad.encode())

    vectors = {
        "description": "Known answers for docs/sealed-format.md, computed with Python cryptography by "
                       "scripts/make-sealed-vectors.py. Binary values are unpadded base64url unless named *_hex.",
        "login": {
            "installation_salt": b64u(installation_salt), "address": address, "password": password,
            "iterations": iterations, "master_hex": master.hex(), "locator": locator, "wrap_key": b64u(wrap_key),
        },
        "bundle": {
            "recipient_private_hex": recipient_d, "recipient_public": b64u(point(recipient)), "mailbox": mailbox,
            "nonce": bundle["nonce"], "json": bundle_json,
        },
        "object": {
            "recipient_private_hex": recipient_d, "ephemeral_private_hex": ephemeral_d, "nonce": b64u(nonce),
            "context": context, "associated_data": aad, "plaintext": b64u(plaintext),
            "shared_secret": b64u(shared), "key": b64u(object_key), "sealed": b64u(sealed),
        },
    }
    with open(out, "w") as f:
        json.dump(vectors, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
