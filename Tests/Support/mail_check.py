#!/usr/bin/env python3
"""Reads one RFC 5322 message (or, with --mbox-dir DIR, every *.eml in DIR) and prints what
Python's email package, under policy.strict, makes of it, as JSON: defects, headers,
the MIME tree, the text parts, and the fields of a message/disposition-notification part.
An independent reader for the tests of spoolrun's outgoing mail."""
import json
import sys
from email import policy
from email.parser import BytesParser


def defects_of(part):
    found = [type(d).__name__ for d in part.defects]
    for name, value in part.items():
        found += [f"{name}: {type(d).__name__}" for d in getattr(value, "defects", [])]
    return found


def walk(part):
    """Like Message.walk, but a message/disposition-notification part is a leaf."""
    yield part
    if part.is_multipart() and part.get_content_type() != "message/disposition-notification":
        for sub in part.iter_parts():
            yield from walk(sub)


def describe(raw):
    out = {"defects": [], "headers": [], "tree": [], "texts": {}, "mdn": None, "attachments": []}
    try:
        msg = BytesParser(policy=policy.strict).parsebytes(raw)
    except Exception as e:  # policy.strict raises on the first defect
        out["defects"].append(f"raised {type(e).__name__}: {e}")
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    out["headers"] = [[k, str(v)] for k, v in msg.items()]
    out["recipients"] = {}
    for field in ("from", "to", "cc", "bcc"):
        if msg[field] is not None:
            out["recipients"][field] = [a.addr_spec for a in msg[field].addresses]
    for part in walk(msg):
        out["defects"] += defects_of(part)
        ctype = part.get_content_type()
        out["tree"].append(ctype)
        if ctype == "message/disposition-notification":
            payload = part.get_payload()
            if isinstance(payload, list):  # parsed as header blocks
                fields = {}
                for block in payload:
                    for k, v in block.items():
                        fields[k] = str(v)
            else:
                text = payload if isinstance(payload, str) else part.get_payload(decode=True).decode()
                fields = {}
                for line in text.splitlines():
                    if ":" in line:
                        k, v = line.split(":", 1)
                        fields[k.strip()] = v.strip()
            out["mdn"] = fields
        elif part.get_content_maintype() == "text" and not part.get_filename():
            out["texts"].setdefault(ctype, part.get_content())
        elif not part.is_multipart():
            data = part.get_payload(decode=True) or b""
            out["attachments"].append({"filename": part.get_filename(), "type": ctype, "size": len(data),
                                       "hex_prefix": data[:32].hex()})
    out["params"] = dict(msg.get_params() or [])
    return out


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--save-attachments":
        # --save-attachments EML DIR: writes each attachment of EML into DIR under the base
        # name of its filename, and prints the names written.
        import os
        msg = BytesParser(policy=policy.default).parsebytes(open(sys.argv[2], "rb").read())
        names = []
        for part in msg.walk():
            name = part.get_filename()
            if name and not part.is_multipart():
                name = os.path.basename(name)
                with open(os.path.join(sys.argv[3], name), "wb") as out:
                    out.write(part.get_payload(decode=True) or b"")
                names.append(name)
        result = names
    elif len(sys.argv) == 3 and sys.argv[1] == "--mbox-dir":
        import pathlib
        result = {p.name: describe(p.read_bytes()) for p in sorted(pathlib.Path(sys.argv[2]).glob("*.eml"))}
    else:
        result = describe(sys.stdin.buffer.read())
    json.dump(result, sys.stdout)
