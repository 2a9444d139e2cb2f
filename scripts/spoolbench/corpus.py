"""The messages the bench sweeps: tunnel messages made by Tests/Support/tunnel_factory.py,
and originals (a large one, a long text) that `spoolrun wrap` makes into tunnel messages."""
import base64
import os
import random
import subprocess

from . import REPO, sh

FACTORY = os.path.join(REPO, "Tests", "Support", "tunnel_factory.py")


def make_corpus(inst, out_dir, count, size=None, recipient="bob@ext.test", tamper=False):
    """`count` tunnel messages (of about `size` bytes) to `recipient`, signed with the
    installation's gateway key (openssl, detached signature, AES-256-GCM); with `tamper`,
    one byte of the signed content changed after signing."""
    sh("python3", FACTORY, "make", "--maker", "openssl", "--encrypt", "aes-256-gcm",
       "--signer-key", os.path.join(inst.gateway, "gateway-sender.key"),
       "--signer-cert", os.path.join(inst.gateway, "gateway-sender.crt"),
       "--recipient-cert", os.path.join(inst.gateway, "tunnel-recipient.crt"),
       "--from", "webmail-sender@gateway.test", "--to", "webmail@portal.test", "--recipient", recipient,
       *(["--pad-to", str(size)] if size else []), *(["--tamper"] if tamper else []),
       "--count", str(count), "--out-dir", out_dir)


def large_original(sender, recipient, attachment_bytes, count=5, seed=25):
    """An original message with `count` attachments of `attachment_bytes` random bytes in
    all, base64 in 76-character CRLF lines, after a plain-text and an HTML body."""
    rng = random.Random(seed)
    boundary, alternative = "bench-mixed-" + "%016x" % rng.getrandbits(64), "bench-alt-" + "%016x" % rng.getrandbits(64)
    crlf = b"\r\n"
    out = [crlf.join(x.encode() for x in [
        f"From: Alice <{sender}>", f"To: <{recipient}>", "Subject: The quarterly data set",
        "Date: Wed, 25 Nov 2026 10:00:00 +0000", "Message-ID: <bench-large@corp.test>", "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"', "", f"--{boundary}",
        f'Content-Type: multipart/alternative; boundary="{alternative}"', "", f"--{alternative}",
        "Content-Type: text/plain; charset=utf-8", "", "Hi Bob, the data set is attached.", f"--{alternative}",
        "Content-Type: text/html; charset=utf-8", "",
        "<p>Hi Bob, the <b>data set</b> is attached.</p>", f"--{alternative}--", ""])]
    for i in range(count):
        size = attachment_bytes // count + (attachment_bytes % count if i == 0 else 0)
        data = base64.b64encode(rng.randbytes(size))
        lines = crlf.join(data[j:j + 76] for j in range(0, len(data), 76))
        out.append(crlf.join(x.encode() for x in [
            f"--{boundary}", f'Content-Type: application/octet-stream; name="part-{i + 1}.bin"',
            f'Content-Disposition: attachment; filename="part-{i + 1}.bin"', "Content-Transfer-Encoding: base64",
            ""]) + crlf + lines)
    out.append(f"--{boundary}--".encode() + crlf)
    return crlf.join(out)


def long_text_original(sender, recipient, lines=5500):
    """A plain-text message long enough for at least 100 PDF pages (as OTPPDFTests shows:
    5,500 such lines paginate to more than 100)."""
    text = "\r\n".join(f"Line {n} of a long message. The quick brown fox jumps over the lazy dog, twice."
                       for n in range(1, lines + 1))
    return ("\r\n".join([f"From: Alice <{sender}>", f"To: <{recipient}>", "Subject: A long report",
                          "Date: Wed, 25 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0",
                          "Content-Type: text/plain; charset=utf-8", "", text, ""])).encode()


def write_in_child(path, make):
    """Writes `make()` to `path` from a forked child, so that this process's own peak RSS
    stays small: Linux carries a parent's peak RSS into the maxrss of a child it spawns
    (exec keeps the larger of the old and the new address space's high-water mark), and
    `measured` would otherwise report the bench's memory instead of spoolrun's."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with open(path, "wb") as f:
                f.write(make())
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"could not write {path}")


def wrap_original(inst, path, tunnel, extra=()):
    """`spoolrun wrap` of the original in `path` to bob@ext.test, into `tunnel`."""
    with open(path, "rb") as src, open(tunnel, "wb") as dst:
        subprocess.run([inst.binary, "wrap", "--config", os.path.join(inst.gateway, "gateway.toml"), *extra,
                        "--to", "bob@ext.test", "--from", "alice@corp.test"], stdin=src, stdout=dst, check=True)
