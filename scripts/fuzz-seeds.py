#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (scripts/fuzz.sh) into OUT/TARGET/: MIME
messages from ../shared/corpus and examples/, the HTML sanitizer vectors, envelopes and
payloads built from them, receipt-log lines, and S/MIME samples for the intake. Seeds are
starting points only; libFuzzer keeps what it learns in its own corpus folder."""
import hashlib
import json
import os
import sys


def put(out, target, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    shared, repo, out = sys.argv[1], sys.argv[2], sys.argv[3]
    corpus = os.path.join(shared, "corpus")
    messages = []
    for root, _, files in os.walk(os.path.join(corpus, "mime")):
        for f in sorted(files):
            if f.endswith((".msg", ".eml")):
                with open(os.path.join(root, f), "rb") as h:
                    data = h.read()
                if len(data) <= 256 * 1024:
                    messages.append(data)
    for f in sorted(os.listdir(os.path.join(repo, "examples", "messages"))):
        with open(os.path.join(repo, "examples", "messages", f), "rb") as h:
            messages.append(h.read())
    for m in messages:
        put(out, "mime", m)

    envelopes = [
        {"version": 1, "id": "seed-000001", "created": "2026-11-25T10:00:00Z", "sender": "alice@corp.example",
         "recipients": ["bob@ext.example"], "read_receipt": True, "delivery": "webmail"},
        {"version": 1, "id": "seed.000002", "created": "2026-11-25T10:00:00Z", "sender": "alice@corp.example",
         "recipients": ["bob@ext.example", "carol@ext.example"], "read_receipt": False, "delivery": "otp-pdf",
         "expires": "2027-02-01T00:00:00Z", "passwords": {"bob@ext.example": "tulip-river-48-anchor"}},
    ]
    for e in envelopes:
        put(out, "envelope", json.dumps(e).encode())
    for i, m in enumerate(messages[:60]):
        env = json.dumps(envelopes[i % 2]).encode()
        payload = (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
                   b"Content-Type: application/vnd.spoolrun.envelope+json\r\n\r\n" + env +
                   b"\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + m + b"\r\n--b--\r\n")
        put(out, "payload", payload)

    for name in ("dompurify.json", "closure.json"):
        path = os.path.join(corpus, "html", name)
        with open(path, encoding="utf-8") as h:
            vectors = json.load(h)
        for v in vectors if isinstance(vectors, list) else vectors.values():
            text = v.get("payload") or v.get("input") if isinstance(v, dict) else v
            if isinstance(text, str):
                put(out, "sanitizer", text.encode())

    put(out, "receipt-log", b"2026-11-25T10:00:00+00:00 /r/abcdefghijklmnopqrstuvwx\n"
        b"2026-11-25T10:00:01+00:00 /r/0123456789ABCDEF_-xy\njunk\n\n")

    smime = os.path.join(corpus, "smime", "rfc4134")
    for f in sorted(os.listdir(smime)):
        if f.endswith(".eml") or f.endswith(".bin"):
            with open(os.path.join(smime, f), "rb") as h:
                put(out, "intake", h.read())
    for m in messages[:20]:
        put(out, "intake", m)


if __name__ == "__main__":
    main()
