#!/usr/bin/env python3
"""A reference peer for `make bench`: what a straightforward Python script would do with
spoolrun's tunnel messages, using PyPI's cryptography (RSA, AES, signatures), asn1crypto (the
CMS structures, which cryptography does not parse for AES-GCM or for verifying), the standard
email package, and nh3 (an allow-list HTML sanitizer).

For each file: read the outer message, decrypt the CMS (AuthEnvelopedData with AES-GCM, or
EnvelopedData with AES-CBC; RSA key transport), split the multipart/signed entity, check the
detached signature against the pinned gateway certificate (signer must be that certificate;
message digest and RSA signature checked), read the envelope JSON and the original message,
walk its parts, decode every body and attachment and sanitize the HTML.

It does less than a spoolrun sweep: nothing is sealed, stored, synced or queued. It is a
yardstick for the language and libraries, not a portal.

Usage: python_peer.py --key KEY --gateway-cert PINNED FILE...
Prints one JSON line: {"messages": N, "seconds": S, "parts": P, "html_bytes": H}. Exits 1
naming the file when a message does not decrypt, verify or parse.
"""
import argparse
import email
import email.policy
import hashlib
import json
import sys
import time

import nh3
from asn1crypto import cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENVELOPE_TYPE = "application/vnd.spoolrun.envelope+json"
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class Rejected(Exception):
    pass


class GCMParameters(core.Sequence):
    _fields = [("nonce", core.OctetString), ("icv_len", core.Integer, {"default": 12})]


def unwrap_key(private_key, recipient):
    ktri = recipient.chosen
    algorithm = ktri["key_encryption_algorithm"]["algorithm"].native
    encrypted = ktri["encrypted_key"].native
    if algorithm == "rsaes_oaep":
        params = ktri["key_encryption_algorithm"]["parameters"]
        digest = HASHES.get(params["hash_algorithm"]["algorithm"].native, hashes.SHA1)()
        return private_key.decrypt(encrypted, padding.OAEP(padding.MGF1(digest), digest, None))
    return private_key.decrypt(encrypted, padding.PKCS1v15())


def decrypt(der, private_key):
    info = cms.ContentInfo.load(der)
    kind, content = info["content_type"].native, info["content"]
    key = unwrap_key(private_key, content["recipient_infos"][0])
    if kind == "authenticated_enveloped_data":
        enc = content["auth_encrypted_content_info"]
        # asn1crypto leaves GCMParameters (RFC 5084: nonce, tag length) unparsed.
        params = enc["content_encryption_algorithm"]["parameters"].parse(GCMParameters)
        aad = b""
        if content["auth_attrs"].native is not None:
            aad = b"\x31" + content["auth_attrs"].dump()[1:]  # as SET OF, RFC 5083
        return AESGCM(key).decrypt(params["nonce"].native,
                                   enc["encrypted_content"].native + content["mac"].native, aad)
    if kind == "enveloped_data":
        enc = content["encrypted_content_info"]
        iv = enc["content_encryption_algorithm"]["parameters"].native
        decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
        padded = decryptor.update(enc["encrypted_content"].native) + decryptor.finalize()
        if not 1 <= padded[-1] <= 16:
            raise Rejected("bad CBC padding")
        return padded[:-padded[-1]]
    raise Rejected(f"not encrypted: {kind}")


def split_signed(entity):
    """The signed part's exact bytes and the signature's DER from a multipart/signed entity.
    openssl writes the entity's own lines with LF and the signed content as it is (CRLF),
    so line endings are taken as found: the one before a delimiter belongs to it."""
    headers = email.message_from_bytes(entity, policy=email.policy.compat32)
    if headers.get_content_type() != "multipart/signed":
        raise Rejected("not multipart/signed")
    delimiter = b"--" + headers.get_param("boundary").encode()

    def part_after(position):
        """(start, end) of the part whose delimiter line is at `position`."""
        start = entity.index(b"\n", position) + 1
        following = entity.index(b"\n" + delimiter, start)
        end = following - 1 if entity[following - 1:following] == b"\r" else following
        return start, end, following + 1

    first = entity.index(b"\n" + delimiter) + 1
    start, end, second = part_after(first)
    signed = entity[start:end]
    sig_start, sig_end, _ = part_after(second)
    signature_part = email.message_from_bytes(entity[sig_start:sig_end], policy=email.policy.compat32)
    return signed, signature_part.get_payload(decode=True)


def verify(signed, signature_der, pinned):
    signer = cms.ContentInfo.load(signature_der)["content"]["signer_infos"][0]
    sid = signer["sid"].chosen
    if (sid["serial_number"].native != pinned.serial_number
            or sid["issuer"].dump() != pinned.issuer.public_bytes()):
        raise Rejected("not signed by the pinned gateway certificate")
    digest_name = signer["digest_algorithm"]["algorithm"].native
    attrs = signer["signed_attrs"]
    wanted = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
    if hashlib.new(digest_name, signed).digest() != wanted:
        raise Rejected("message digest does not match")
    algorithm = HASHES[digest_name]()
    scheme = signer["signature_algorithm"]["algorithm"].native
    rsa_padding = (padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO) if scheme == "rsassa_pss"
                   else padding.PKCS1v15())
    pinned.public_key().verify(signer["signature"].native, b"\x31" + attrs.dump()[1:], rsa_padding, algorithm)


def read_payload(signed):
    payload = email.message_from_bytes(signed, policy=email.policy.default)
    envelope, original = None, None
    for part in payload.iter_parts():
        if part.get_content_type() == ENVELOPE_TYPE:
            envelope = json.loads(part.get_payload(decode=True))
        elif part.get_content_type() == "message/rfc822":
            original = part.get_payload()[0]
    if envelope is None or original is None:
        raise Rejected("payload lacks the envelope or the original")
    parts = html_bytes = 0
    for part in original.walk():
        if part.is_multipart():
            continue
        parts += 1
        content = part.get_content()
        if part.get_content_type() == "text/html":
            html_bytes += len(nh3.clean(content))
    return envelope, original["Subject"], parts, html_bytes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--gateway-cert", required=True)
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    with open(args.key, "rb") as f:
        private_key = serialization.load_pem_private_key(f.read(), password=None)
    with open(args.gateway_cert, "rb") as f:
        pinned = x509.load_pem_x509_certificate(f.read())
    start = time.perf_counter()
    parts = html_bytes = 0
    for path in args.files:
        try:
            with open(path, "rb") as f:
                outer = email.message_from_binary_file(f, policy=email.policy.compat32)
            entity = decrypt(outer.get_payload(decode=True), private_key)
            signed, signature = split_signed(entity)
            verify(signed, signature, pinned)
            _, _, n, h = read_payload(signed)
            parts, html_bytes = parts + n, html_bytes + h
        except Exception as error:  # noqa: BLE001 - any failure names the file
            print(f"python_peer: {path}: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    seconds = time.perf_counter() - start
    print(json.dumps({"messages": len(args.files), "seconds": seconds, "parts": parts, "html_bytes": html_bytes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
