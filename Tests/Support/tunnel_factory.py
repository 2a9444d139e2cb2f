#!/usr/bin/env python3
"""Makes S/MIME tunnel messages (DESIGN.md section 4) and the keys to sign them, for
spoolrun's tests and benchmarks.

The point is independence: the messages come from the openssl CLI or from Python's
`cryptography`, never from spoolrun itself, so a test proves interoperability rather than
agreement with itself. Run `tunnel_factory.py SUBCOMMAND --help` for the options.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime
import email.utils
import functools
import json
import multiprocessing
import os
import re
import secrets
import string
import subprocess
import sys
import tempfile
import time

# `cryptography` is imported where the python maker needs it, so `keys`, `outer` and the
# openssl maker run without it.

OPENSSL = os.environ.get("OPENSSL", "openssl")
OPENSSL_TIMEOUT = 120  # seconds; RSA key generation on a slow CI box is the long pole

DEFAULT_FROM = "webmail-sender@gateway.test"
DEFAULT_TO = "webmail@portal.test"
DEFAULT_SENDER = "alice@corp.test"
DEFAULT_RECIPIENT = "bob@ext.test"
OUTER_SUBJECT = "spoolrun tunnel"
ENVELOPE_TYPE = "application/vnd.spoolrun.envelope+json"

# Headers a maker may write into the S/MIME entity that belong to the outer message only.
HEADERS_WE_OWN = {b"from", b"to", b"subject"}

OPENSSL_CIPHERS = {
    "aes-256-gcm": "-aes-256-gcm",
    "aes256": "-aes256",
    "aes128": "-aes128",
    "des3": "-des3",
    "rc2": "-rc2",
}
# The legacy provider holds RC2 in OpenSSL 3; "default" must be named again once any
# -provider option is given, or the AES and RSA the rest of the job needs disappear.
LEGACY_PROVIDERS = ["-provider", "legacy", "-provider", "default"]

PYTHON_CIPHERS = {"aes256", "aes128"}
DIGESTS = ("sha256", "sha384", "sha512", "sha1")

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor",
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis",
    "nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
    "Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu",
    "fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in",
    "culpa qui officia deserunt mollit anim id est laborum.",
)


class ToolError(Exception):
    """A failure to report on stderr, without a traceback, before exiting 1."""


# --------------------------------------------------------------------------- openssl

def run_openssl(args: list[str], stdin: bytes | None = None) -> bytes:
    cmd = [OPENSSL, *args]
    try:
        done = subprocess.run(
            cmd,
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            check=True,
            timeout=OPENSSL_TIMEOUT,
        )
    except FileNotFoundError:
        raise ToolError(f"cannot run {OPENSSL!r}: not found") from None
    except subprocess.TimeoutExpired:
        raise ToolError(f"timed out after {OPENSSL_TIMEOUT}s: {' '.join(cmd)}") from None
    except subprocess.CalledProcessError as failure:
        stderr = failure.stderr.decode("utf-8", "replace").strip()
        raise ToolError(
            f"failed (exit {failure.returncode}): {' '.join(cmd)}\n{stderr}"
        ) from None
    return done.stdout


# --------------------------------------------------------------------------- keys

@dataclasses.dataclass(frozen=True)
class CertSpec:
    name: str
    key_type: str  # "rsa" or "ec"
    subject: str
    extensions: tuple[str, ...]
    issued_by_ca: bool = False


def _gateway_extensions(email_address: str) -> tuple[str, ...]:
    return (
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature,nonRepudiation",
        "extendedKeyUsage = emailProtection",
        f"subjectAltName = email:{email_address}",
        "subjectKeyIdentifier = hash",
    )


GATEWAY_SUBJECT = f"/CN=Gateway Sender/emailAddress={DEFAULT_FROM}"

# Order matters: the CA comes first because the leaves after it are issued by it.
CERT_SPECS = (
    CertSpec("ca", "rsa", "/CN=spoolrun Test CA", (
        "basicConstraints = critical,CA:TRUE",
        "keyUsage = critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier = hash",
    )),
    CertSpec("gw-rsa", "rsa", GATEWAY_SUBJECT, _gateway_extensions(DEFAULT_FROM)),
    CertSpec("gw-ec", "ec", GATEWAY_SUBJECT, _gateway_extensions(DEFAULT_FROM)),
    CertSpec(
        "gw-ca", "rsa", f"/CN=Gateway Sender CA-issued/emailAddress={DEFAULT_FROM}",
        _gateway_extensions(DEFAULT_FROM), issued_by_ca=True,
    ),
    CertSpec(
        "other-ca", "rsa", "/CN=Other Sender/emailAddress=other-sender@gateway.test",
        _gateway_extensions("other-sender@gateway.test"), issued_by_ca=True,
    ),
    CertSpec("tls-ca", "rsa", "/CN=gateway.test", (
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage = serverAuth",
        "subjectAltName = DNS:gateway.test",
        "subjectKeyIdentifier = hash",
    ), issued_by_ca=True),
    # Same name and extensions as gw-rsa, fresh key and random serial: only pinning by the
    # certificate itself (not by its name) tells the two apart.
    CertSpec("attacker", "rsa", GATEWAY_SUBJECT, _gateway_extensions(DEFAULT_FROM)),
    CertSpec(
        "other-recipient", "rsa", "/CN=Someone Else/emailAddress=someone-else@portal.test", (
            "basicConstraints = critical,CA:FALSE",
            "keyUsage = critical,keyEncipherment",
            "extendedKeyUsage = emailProtection",
            "subjectAltName = email:someone-else@portal.test",
            "subjectKeyIdentifier = hash",
        ),
    ),
)

# `openssl req -x509` and `openssl x509 -req` in OpenSSL 3.0 cannot back-date notBefore
# (-not_before arrived in 3.4), and a certificate that starts "now" fails on a machine
# whose clock is a little behind. `openssl ca` has -startdate, so every certificate,
# self-signed ones included (-selfsign), goes through a throw-away `ca` set-up.
CA_CONFIG = """\
[ca]
default_ca = factory

[factory]
database = {work}/index.txt
new_certs_dir = {work}
default_md = sha256
rand_serial = yes
policy = any_name
unique_subject = no
copy_extensions = none

[any_name]
commonName = supplied
emailAddress = optional
"""


def _write_private(path: str, data: bytes) -> None:
    # Created 0600 from the start rather than chmod-ed afterwards, so the key is never
    # readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _generate_key(key_type: str) -> bytes:
    if key_type == "rsa":
        return run_openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
    return run_openssl([
        "genpkey", "-algorithm", "EC",
        "-pkeyopt", "ec_paramgen_curve:P-256", "-pkeyopt", "ec_param_enc:named_curve",
    ])


def _issue(spec: CertSpec, key_path: str, cert_path: str, key_dir: str, work: str) -> None:
    csr = os.path.join(work, f"{spec.name}.csr")
    run_openssl(["req", "-new", "-key", key_path, "-subj", spec.subject, "-out", csr])

    ext = os.path.join(work, f"{spec.name}.ext")
    extensions = list(spec.extensions)
    if spec.issued_by_ca:
        extensions.append("authorityKeyIdentifier = keyid:always")
    with open(ext, "w") as out:
        out.write("[ext]\n" + "\n".join(extensions) + "\n")

    # UTCTime (YYMMDDHHMMSSZ) covers dates up to 2049.
    not_before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    not_after = not_before + datetime.timedelta(days=3653)
    if spec.issued_by_ca:
        signer = ["-cert", os.path.join(key_dir, "ca.crt"),
                  "-keyfile", os.path.join(key_dir, "ca.key")]
    else:
        signer = ["-selfsign", "-keyfile", key_path]
    run_openssl([
        "ca", "-batch", "-config", os.path.join(work, "ca.cnf"), "-notext",
        "-preserveDN", "-md", "sha256",
        "-startdate", not_before.strftime("%y%m%d%H%M%SZ"),
        "-enddate", not_after.strftime("%y%m%d%H%M%SZ"),
        *signer, "-extfile", ext, "-extensions", "ext",
        "-in", csr, "-out", cert_path,
    ])


def cmd_keys(args: argparse.Namespace) -> None:
    os.makedirs(args.dir, exist_ok=True)
    targets = [os.path.join(args.dir, f"{spec.name}.{ext}")
               for spec in CERT_SPECS for ext in ("key", "crt")]
    existing = [path for path in targets if os.path.exists(path)]
    if existing:
        raise ToolError(f"refusing to overwrite: {', '.join(existing)}")

    with tempfile.TemporaryDirectory(prefix="tunnel-factory-ca-") as work:
        with open(os.path.join(work, "ca.cnf"), "w") as out:
            out.write(CA_CONFIG.format(work=work))
        open(os.path.join(work, "index.txt"), "w").close()
        for spec in CERT_SPECS:
            key_path = os.path.join(args.dir, f"{spec.name}.key")
            _write_private(key_path, _generate_key(spec.key_type))
            _issue(spec, key_path, os.path.join(args.dir, f"{spec.name}.crt"), args.dir, work)


# --------------------------------------------------------------------------- MIME helpers

def line_ending(data: bytes) -> bytes:
    """The line ending of the first line: what a maker used for its own headers."""
    newline = data.find(b"\n")
    return b"\r\n" if newline > 0 and data[newline - 1:newline] == b"\r" else b"\n"


def split_entity(data: bytes) -> tuple[list[bytes], bytes, bytes]:
    """Splits a MIME entity into header fields (each with its continuation lines and line
    endings), the blank separator line, and the body."""
    fields: list[bytes] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        end = len(data) if end < 0 else end + 1
        line = data[position:end]
        if line in (b"\r\n", b"\n"):
            return fields, line, data[end:]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
        position = end
    return fields, b"", b""


def field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def header_value(fields: list[bytes], name: bytes) -> bytes | None:
    for field in fields:
        if field_name(field) == name:
            return b" ".join(field.split(b":", 1)[1].split())
    return None


def rfc5322_now() -> str:
    return email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))


def outer_message(entity: bytes, mail_from: str, mail_to: list[str]) -> bytes:
    """Puts the outer message's own header fields in front of a maker's S/MIME entity, in
    the entity's line-ending style."""
    fields, separator, body = split_entity(entity)
    eol = line_ending(entity)
    kept = [field for field in fields if field_name(field) not in HEADERS_WE_OWN]
    ours = [
        f"From: {mail_from}",
        f"To: {', '.join(mail_to)}",
        f"Subject: {OUTER_SUBJECT}",
        f"Date: {rfc5322_now()}",
        f"Message-ID: <{secrets.token_hex(16)}@gateway.test>",
    ]
    # Only the unsigned, unencrypted payload lacks it; makers always write one.
    if not any(field_name(field) == b"mime-version" for field in kept):
        ours.append("MIME-Version: 1.0")
    head = b"".join(line.encode("utf-8") + eol for line in ours)
    return head + b"".join(kept) + (separator or eol) + body


# --------------------------------------------------------------------------- payload

def random_id(length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def iso_utc(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def lorem_lines(size: int) -> bytes:
    """Exactly `size` bytes of CRLF-terminated text lines (fewer only when size < 2)."""
    out = bytearray()
    index = 0
    while len(out) + 2 <= size:
        line = LOREM[index % len(LOREM)].encode()
        line = line[:size - len(out) - 2]
        out += line + b"\r\n"
        index += 1
    return bytes(out)


def default_original(sender: str, recipients: list[str], pad: int) -> bytes:
    head = [
        f"From: Alice <{sender}>",
        f"To: {', '.join(recipients)}",
        "Subject: Quarterly report",
        f"Date: {rfc5322_now()}",
        f"Message-ID: <{secrets.token_hex(12)}@corp.test>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 7bit",
        "",
        "Hi Bob,",
        "",
        "the quarterly numbers are in; revenue is up 4% on the last quarter.",
        "",
        "Regards,",
        "Alice",
    ]
    return "\r\n".join(head).encode() + b"\r\n" + lorem_lines(pad)


def envelope_json(settings: Settings, envelope_id: str) -> bytes:
    if settings.created is not None:
        created = settings.created
    else:
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        created = iso_utc(now + datetime.timedelta(seconds=settings.created_offset))
    envelope: dict[str, object] = {
        "version": 1,
        "id": envelope_id,
        "created": created,
        "sender": settings.sender,
        "recipients": settings.recipients,
        "read_receipt": settings.read_receipt,
        "delivery": settings.delivery,
    }
    if settings.expires is not None:
        envelope["expires"] = settings.expires
    if settings.passwords:
        envelope["passwords"] = settings.passwords
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build_payload(envelope: bytes | None, original: bytes) -> bytes:
    boundary = f"spoolrun-{secrets.token_hex(12)}".encode()
    parts = [] if envelope is None else [(ENVELOPE_TYPE.encode(), envelope)]
    parts.append((b"message/rfc822", original))
    out = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
    for content_type, body in parts:
        out += b"--" + boundary + b"\r\nContent-Type: " + content_type + b"\r\n\r\n"
        out += body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


# --------------------------------------------------------------------------- makers

@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything `make` needs, checked; picklable so pool workers can have it."""
    maker: str
    sign: str
    digest: str
    rsa_padding: str
    encrypt: str
    signer_key: str | None
    signer_cert: str | None
    recipient_cert: str | None
    tamper: bool
    mail_from: str
    mail_to: list[str]
    envelope_id: str | None
    created: str | None
    created_offset: int
    sender: str
    recipients: list[str]
    read_receipt: bool
    delivery: str
    expires: str | None
    passwords: dict[str, str]
    envelope_raw: bytes | None
    no_envelope: bool
    original: bytes | None


def openssl_sign(settings: Settings, payload: bytes) -> bytes:
    cmd = ["cms", "-sign", "-binary", "-md", settings.digest,
           "-signer", settings.signer_cert, "-inkey", settings.signer_key]
    if settings.rsa_padding == "pss":
        cmd += ["-keyopt", "rsa_padding_mode:pss"]
    if settings.sign == "opaque":
        cmd.append("-nodetach")
    return run_openssl(cmd + ["-outform", "SMIME"], stdin=payload)


def openssl_encrypt(settings: Settings, entity: bytes) -> bytes:
    tail = ["-outform", "SMIME", settings.recipient_cert]
    cipher = OPENSSL_CIPHERS[settings.encrypt]
    if settings.encrypt != "rc2":
        return run_openssl(["cms", "-encrypt", "-binary", cipher, *tail], stdin=entity)
    failures = []
    for command in ("cms", "smime"):
        try:
            return run_openssl(
                [command, "-encrypt", "-binary", cipher, *LEGACY_PROVIDERS, *tail], stdin=entity)
        except ToolError as failure:
            failures.append(str(failure))
    raise ToolError("RC2 is unavailable (is OpenSSL's legacy provider installed?)\n"
                    + "\n".join(failures))


@functools.lru_cache(maxsize=None)
def _load_cert(path: str):
    from cryptography import x509
    with open(path, "rb") as source:
        return x509.load_pem_x509_certificate(source.read())


@functools.lru_cache(maxsize=None)
def _load_key(path: str):
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as source:
        return serialization.load_pem_private_key(source.read(), password=None)


def wrap_opaque(der: bytes) -> bytes:
    # cryptography's SMIME encoding always writes multipart/signed, even when the content
    # is embedded (the content then appears twice); an opaque signature needs its DER
    # wrapped as application/pkcs7-mime. Headers and 64-column base64 as openssl writes
    # them, line endings CRLF as cryptography writes its own.
    b64 = base64.b64encode(der)
    b64 = b"".join(b64[i:i + 64] + b"\r\n" for i in range(0, len(b64), 64))
    return (
        b"MIME-Version: 1.0\r\n"
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
        b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + b64
    )


def python_sign(settings: Settings, payload: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import pkcs7

    digest = {"sha256": hashes.SHA256, "sha384": hashes.SHA384,
              "sha512": hashes.SHA512}[settings.digest]()
    rsa_padding = None
    if settings.rsa_padding == "pss":
        rsa_padding = padding.PSS(padding.MGF1(digest), padding.PSS.DIGEST_LENGTH)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(payload).add_signer(
        _load_cert(settings.signer_cert), _load_key(settings.signer_key), digest,
        rsa_padding=rsa_padding,
    )
    # Binary: the payload is already canonical (CRLF); without it cryptography would
    # rewrite line endings.
    if settings.sign == "detached":
        # Even with Binary, cryptography (48) writes the multipart/signed through an email
        # generator with linesep="\r\n", which turns a bare LF in the shown content into
        # CRLF while the signature covers the LF: the result could never verify.
        if re.search(rb"(?<!\r)\n", payload):
            raise ToolError("the python maker's detached signature cannot carry bare LF "
                            "line endings (drop --original-as-is, or use --sign opaque "
                            "or --maker openssl)")
        return builder.sign(serialization.Encoding.SMIME,
                            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
    return wrap_opaque(builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary]))


def python_encrypt(settings: Settings, entity: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.ciphers import algorithms
    from cryptography.hazmat.primitives.serialization import pkcs7

    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(entity).add_recipient(
        _load_cert(settings.recipient_cert))
    if hasattr(builder, "set_content_encryption_algorithm"):
        algorithm = algorithms.AES256 if settings.encrypt == "aes256" else algorithms.AES128
        builder = builder.set_content_encryption_algorithm(algorithm)
    elif settings.encrypt != "aes128":
        # Older releases always use AES-128-CBC.
        raise ToolError("this cryptography release can only encrypt with aes128")
    # Binary: encrypt the signed entity byte for byte; without it cryptography turns bare
    # LF into CRLF, which breaks signatures made over LF text (openssl's signed wrapper).
    return builder.encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])


def flip_within(data: bytes, needle: bytes) -> bytes:
    """Changes one character of the first occurrence of `needle` (or of a prefix of it, as
    an opaque signature may split its content over several OCTET STRING chunks)."""
    length = len(needle)
    while length >= 6:
        position = data.find(needle[:length])
        if position >= 0:
            break
        length //= 2
    else:
        raise ToolError("cannot find the signed content to tamper with")
    # Prefer a letter or digit, swapped for another one: the envelope stays valid JSON with
    # a well-formed id, so only the signature can catch the change.
    for offset in range(length):
        char = chr(data[position + offset])
        if char.isascii() and char.isalnum():
            swapped = {"z": "a", "Z": "A", "9": "0"}.get(char, chr(ord(char) + 1))
            break
    else:
        offset, swapped = length // 2, chr(data[position + length // 2] ^ 0x01)
    index = position + offset
    return data[:index] + swapped.encode("latin-1") + data[index + 1:]


def tamper(entity: bytes, needle: bytes) -> bytes:
    fields, separator, body = split_entity(entity)
    content_type = (header_value(fields, b"content-type") or b"").lower()
    if b"multipart/signed" in content_type:
        # The signed content is in clear; the first occurrence is in the first part,
        # ahead of the signature.
        return entity[:len(entity) - len(body)] + flip_within(body, needle)
    # Opaque: the content is inside the base64 DER. Same length, same line layout.
    eol = line_ending(body)
    lines = body.split()
    width = len(lines[0]) if lines else 64
    try:
        der = base64.b64decode(b"".join(lines), validate=True)
    except binascii.Error:
        raise ToolError("cannot decode the opaque signature to tamper with it") from None
    encoded = base64.b64encode(flip_within(der, needle))
    rewrapped = eol.join(encoded[i:i + width] for i in range(0, len(encoded), width)) + eol
    return b"".join(fields) + separator + rewrapped


def tamper_needle(envelope: bytes | None, envelope_id: str | None, original: bytes) -> bytes:
    if envelope_id is not None:
        # As it appears in the JSON text.
        return json.dumps(envelope_id, ensure_ascii=False)[1:-1].encode("utf-8")
    text = envelope if envelope else original
    middle = len(text) // 2
    return text[max(0, middle - 8):middle + 8]


# --------------------------------------------------------------------------- make

def build_message(settings: Settings, pad: int) -> tuple[bytes, str | None]:
    """One complete tunnel message, and the envelope id when one was generated."""
    envelope_id = None
    if settings.no_envelope:
        envelope = None
    elif settings.envelope_raw is not None:
        envelope = settings.envelope_raw
    else:
        envelope_id = settings.envelope_id or random_id()
        envelope = envelope_json(settings, envelope_id)
    original = settings.original
    if original is None:
        original = default_original(settings.sender, settings.recipients, pad)
    payload = build_payload(envelope, original)

    sign, encrypt = ((openssl_sign, openssl_encrypt) if settings.maker == "openssl"
                     else (python_sign, python_encrypt))
    entity = payload
    if settings.sign != "none":
        entity = sign(settings, payload)
        if settings.tamper:
            entity = tamper(entity, tamper_needle(envelope, envelope_id, original))
    if settings.encrypt != "none":
        entity = encrypt(settings, entity)
    return outer_message(entity, settings.mail_from, settings.mail_to), envelope_id


def build_checked(settings: Settings, pad: int) -> tuple[bytes, str | None]:
    if settings.maker != "python":
        return build_message(settings, pad)
    # cryptography reports unsupported combinations (an EC recipient, PSS with an EC key)
    # as TypeError or ValueError; they are the user's mistake, not a bug here.
    from cryptography.exceptions import UnsupportedAlgorithm
    try:
        return build_message(settings, pad)
    except (TypeError, ValueError, UnsupportedAlgorithm) as failure:
        raise ToolError(f"cryptography refused: {failure}") from None


def padding_for(settings: Settings, target: int) -> int:
    """How many bytes of padding bring the tunnel file to about `target` bytes. Size grows
    linearly with the padding (by about 4/3 once base64-encoded), so two trial builds
    give the slope."""
    base = len(build_checked(settings, 0)[0])
    if base >= target:
        return 0
    guess = target - base
    trial = len(build_checked(settings, guess)[0])
    slope = (trial - base) / guess
    return max(0, round(guess + (target - trial) / slope))


def write_atomically(path: str, data: bytes) -> None:
    # Readers (spoolrun's intake, the Maildir convention) skip dot-files, so a half-written
    # file is never picked up.
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def _make_one_into_dir(job: tuple[Settings, int, str, int, int]) -> str | None:
    settings, pad, out_dir, index, parent_pid = job
    message, envelope_id = build_checked(settings, pad)
    name = f"{int(time.time())}.{index}_{parent_pid}.bench,S={len(message)}"
    write_atomically(os.path.join(out_dir, name), message)
    return envelope_id


def _settings_from(args: argparse.Namespace) -> Settings:
    def require(option: str, value: object, reason: str) -> None:
        if value is None:
            raise ToolError(f"{option} is required {reason}")

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") if path != "-" else os.fdopen(0, "rb", closefd=False) as source:
            return source.read()

    encrypt = args.encrypt or ("aes-256-gcm" if args.maker == "openssl" else "aes256")
    if args.sign != "none":
        require("--signer-key", args.signer_key, "to sign")
        require("--signer-cert", args.signer_cert, "to sign")
    if encrypt != "none":
        require("--recipient-cert", args.recipient_cert, "to encrypt")
    if args.maker == "python":
        if args.digest == "sha1":
            raise ToolError("the python maker cannot sign with sha1 (cryptography refuses it); "
                            "use --maker openssl")
        if encrypt not in PYTHON_CIPHERS | {"none"}:
            raise ToolError(f"the python maker cannot encrypt with {encrypt}; "
                            f"it does {', '.join(sorted(PYTHON_CIPHERS))} (or use --maker openssl)")
    if args.tamper and args.sign == "none":
        raise ToolError("--tamper needs a signature to break; not with --sign none")
    if args.pad_to is not None and args.original is not None:
        raise ToolError("--pad-to pads the generated original; not with --original")
    if args.print_id and (args.no_envelope or args.envelope_raw is not None):
        raise ToolError("--print-id needs a generated envelope")
    if args.count > 1 and args.id is not None:
        raise ToolError("--id with --count > 1 would repeat the id; make them one by one")

    passwords = {}
    for item in args.password or []:
        address, separator, password = item.partition("=")
        if not separator or not address:
            raise ToolError(f"--password wants ADDR=PW, got {item!r}")
        passwords[address] = password

    original = read(args.original)
    if original is not None and not args.original_as_is:
        original = to_crlf(original)
    return Settings(
        maker=args.maker, sign=args.sign, digest=args.digest, rsa_padding=args.rsa_padding,
        encrypt=encrypt, signer_key=args.signer_key, signer_cert=args.signer_cert,
        recipient_cert=args.recipient_cert, tamper=args.tamper,
        mail_from=args.mail_from, mail_to=args.mail_to or [DEFAULT_TO],
        envelope_id=args.id, created=args.created,
        created_offset=args.created_offset_seconds or 0,
        sender=args.sender, recipients=args.recipient or [DEFAULT_RECIPIENT],
        read_receipt=args.read_receipt, delivery=args.delivery, expires=args.expires,
        passwords=passwords, envelope_raw=read(args.envelope_raw),
        no_envelope=args.no_envelope, original=original,
    )


def cmd_make(args: argparse.Namespace) -> None:
    if (args.out is None) == (args.out_dir is None):
        raise ToolError("give exactly one of --out and --out-dir")
    if args.count < 1 or (args.count > 1 and args.out_dir is None):
        raise ToolError("--count N (N >= 1) writes into --out-dir")
    if args.print_id and args.out == "-":
        raise ToolError("--print-id and --out - would both write to stdout")
    settings = _settings_from(args)
    pad = padding_for(settings, args.pad_to) if args.pad_to is not None else 0

    if args.out is not None:
        message, envelope_id = build_checked(settings, pad)
        if args.out == "-":
            sys.stdout.buffer.write(message)
            sys.stdout.buffer.flush()
        else:
            write_atomically(args.out, message)
        ids = [envelope_id]
    else:
        os.makedirs(args.out_dir, exist_ok=True)
        jobs = [(settings, pad, args.out_dir, index, os.getpid()) for index in range(args.count)]
        if args.count == 1:
            ids = [_make_one_into_dir(jobs[0])]
        else:
            # Each message costs two openssl processes, so two workers keep two cores busy.
            with multiprocessing.get_context("fork").Pool(2) as pool:
                ids = pool.map(_make_one_into_dir, jobs, chunksize=16)
    if args.print_id:
        print("\n".join(ids))


# --------------------------------------------------------------------------- outer

def cmd_outer(args: argparse.Namespace) -> None:
    if args.body_file == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.body_file, "rb") as source:
            body = source.read()
    eol = b"\n" if b"\n" in body and b"\r\n" not in body else b"\r\n"
    entity = b"Content-Type: " + args.content_type.encode("utf-8") + eol + eol + body
    message = outer_message(entity, args.mail_from, args.mail_to or [DEFAULT_TO])
    if args.out == "-":
        sys.stdout.buffer.write(message)
    else:
        write_atomically(args.out, message)


# --------------------------------------------------------------------------- CLI

def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)

    keys = commands.add_parser("keys", help="create the test CA, gateway and other key pairs")
    keys.add_argument("--dir", required=True, help="directory to write the PEM files into")
    keys.set_defaults(run=cmd_keys)

    def outer_headers(command: argparse.ArgumentParser) -> None:
        command.add_argument("--from", dest="mail_from", default=DEFAULT_FROM, metavar="ADDR")
        command.add_argument("--to", dest="mail_to", action="append", metavar="ADDR",
                             help=f"repeatable (default {DEFAULT_TO})")

    make = commands.add_parser("make", help="build tunnel message(s)")
    crypto = make.add_argument_group("signing and encryption")
    crypto.add_argument("--maker", choices=("openssl", "python"), default="openssl")
    crypto.add_argument("--sign", choices=("detached", "opaque", "none"), default="detached")
    crypto.add_argument("--digest", choices=DIGESTS, default="sha256")
    crypto.add_argument("--rsa-padding", choices=("pkcs1", "pss"), default="pkcs1",
                        help="signature padding for an RSA signer key")
    crypto.add_argument("--encrypt", choices=(*OPENSSL_CIPHERS, "none"),
                        help="default aes-256-gcm (openssl), aes256 (python)")
    crypto.add_argument("--signer-key", metavar="FILE")
    crypto.add_argument("--signer-cert", metavar="FILE")
    crypto.add_argument("--recipient-cert", metavar="FILE")
    crypto.add_argument("--tamper", action="store_true",
                        help="change one byte of the signed content after signing")

    envelope = make.add_argument_group("envelope (the JSON part)")
    envelope.add_argument("--id", help="default: 24 random letters and digits")
    created = envelope.add_mutually_exclusive_group()
    created.add_argument("--created", metavar="ISO", help="written as given; default now")
    created.add_argument("--created-offset-seconds", type=int, metavar="N",
                         help="now + N seconds (negative: in the past)")
    envelope.add_argument("--sender", default=DEFAULT_SENDER, metavar="ADDR")
    envelope.add_argument("--recipient", action="append", metavar="ADDR",
                          help=f"repeatable (default {DEFAULT_RECIPIENT})")
    envelope.add_argument("--read-receipt", action="store_true")
    envelope.add_argument("--delivery", default="webmail")
    envelope.add_argument("--expires", metavar="ISO", help="written as given")
    envelope.add_argument("--password", action="append", metavar="ADDR=PW")
    raw = envelope.add_mutually_exclusive_group()
    raw.add_argument("--envelope-raw", metavar="FILE",
                     help="these exact bytes as the envelope part's body")
    raw.add_argument("--no-envelope", action="store_true",
                     help="payload with the message/rfc822 part only")

    content = make.add_argument_group("original message")
    content.add_argument("--original", metavar="FILE",
                         help="default: a small generated message from the sender")
    content.add_argument("--original-as-is", action="store_true",
                         help="do not convert the original's line endings to CRLF")
    content.add_argument("--pad-to", type=int, metavar="BYTES",
                         help="pad the generated original so the tunnel file is about this big")

    output = make.add_argument_group("output")
    outer_headers(output)
    output.add_argument("--out", metavar="FILE", help="'-' for stdout")
    output.add_argument("--out-dir", metavar="DIR", help="write Maildir-style names here")
    output.add_argument("--count", type=int, default=1, metavar="N")
    output.add_argument("--print-id", action="store_true",
                        help="print the envelope id(s), one a line")
    make.set_defaults(run=cmd_make)

    outer = commands.add_parser("outer", help="write a plain (not S/MIME) outer message")
    outer_headers(outer)
    outer.add_argument("--body-file", required=True, metavar="FILE", help="'-' for stdin")
    outer.add_argument("--content-type", default="text/plain; charset=utf-8", metavar="CT")
    outer.add_argument("--out", required=True, metavar="FILE", help="'-' for stdout")
    outer.set_defaults(run=cmd_outer)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except (ToolError, OSError) as failure:
        print(f"tunnel_factory: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
