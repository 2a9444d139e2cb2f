"""Each group of figures: intake and full-sweep throughput, reprocess, the crypto floor, one
large message, OTP mode, and memory per message. Each returns numbers; report.py prints them."""
import glob
import os
import re
import subprocess
import sys
import time

from . import MIB, sh
from .corpus import large_original, long_text_original, make_corpus, wrap_original, write_in_child
from .measure import (disk_write_rate, measured, openssl_ecdh_p256_per_second, openssl_rsa2048_sign_per_second,
                      sampled_sweep, timed)
from .peers import peer_figures


def throughput_figures(inst, bench_bin, warmup, messages, repeat):
    """Messages per second of intake (`spoolrun-bench intake`) and of the full sweep to a
    known recipient, on core 0 with one worker and on both cores with two; best of
    `repeat`, each run on a fresh state. Also the best first-contact time (a sweep of
    `warmup` alone, which makes the recipient: one PBKDF2 run)."""
    intake_cmd = [bench_bin, "intake", inst.config]
    sweep_cmd = inst.sweep_command()
    intake, sweeps, first_contact = {}, {}, None
    for label, workers, cpus in (("1 core", 1, "0"), ("2 cores", 2, None)):
        inst.set_workers(workers)
        best_intake = best_sweep = None
        for _ in range(repeat):
            inst.reset(messages)
            seconds = timed(intake_cmd, cpus)
            archived = inst.archived()
            if archived != len(messages):
                raise SystemExit(f"only {archived} of {len(messages)} messages were accepted")
            best_intake = seconds if best_intake is None else min(best_intake, seconds)

            inst.reset([warmup])
            seconds = timed(sweep_cmd, cpus)
            first_contact = seconds if first_contact is None else min(first_contact, seconds)
            inst.deliver(messages)
            seconds = timed(sweep_cmd, cpus)
            archived = inst.archived()
            if archived != len(messages) + 1:
                raise SystemExit(f"only {archived} of {len(messages) + 1} messages were swept")
            best_sweep = seconds if best_sweep is None else min(best_sweep, seconds)
        intake[label] = len(messages) / best_intake
        sweeps[label] = len(messages) / best_sweep
    return intake, sweeps, first_contact


def reprocess_figures(inst, repeat):
    """`spoolrun reprocess --all` of what the archive holds: once with every render new
    (www/m/ removed, so every message is sealed and written again) and once with nothing
    to change; best of `repeat` (at most 2)."""
    reprocess_cmd = [inst.binary, "reprocess", "--quiet", "--config", inst.config, "--all"]
    expected = inst.archived()
    forced = unchanged = None
    for _ in range(min(repeat, 2)):
        inst.drop_mailbox_files()
        seconds, rewritten = timed_reprocess(reprocess_cmd)
        if rewritten != expected:
            raise SystemExit(f"reprocess --all after www/m/ was removed rewrote {rewritten} of {expected} messages")
        forced = seconds if forced is None else min(forced, seconds)
        seconds, rewritten = timed_reprocess(reprocess_cmd)
        if rewritten != 0:
            raise SystemExit(f"reprocess --all with nothing changed rewrote {rewritten} messages")
        unchanged = seconds if unchanged is None else min(unchanged, seconds)
    return forced, unchanged


def timed_reprocess(cmd):
    """Seconds of one `spoolrun reprocess`, and how many mailbox copies its summary says it
    rewrote (every message has one recipient here)."""
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    seconds = time.perf_counter() - start
    m = re.search(r"(\d+) mailbox cop\(ies\) rewritten", out)
    if not m:
        raise SystemExit("could not read the summary of `spoolrun reprocess`:\n" + out)
    return seconds, int(m.group(1))


def floor_figures(inst, message):
    """The crypto floor: `openssl speed` RSA-2048 private-key operations and ECDH P-256 (one
    per sealed object), and `spoolrun-bench floor` (decrypt + split + pinned verify of one
    message in a loop, one thread)."""
    rsa = openssl_rsa2048_sign_per_second()
    ecdh = openssl_ecdh_p256_per_second()
    floor_bin = os.path.join(os.path.dirname(inst.binary), "spoolrun-bench")
    floor = float(sh("taskset", "-c", "0", floor_bin, "floor", os.path.join(inst.keys, "tunnel-recipient.key"),
                     os.path.join(inst.keys, "tunnel-recipient.crt"),
                     os.path.join(inst.keys, "gateway-sender.crt"), message, "3").stdout.strip())
    return {"rsa": rsa, "ecdh": ecdh, "floor": floor}


def one_message_sweeps(inst, warmup, path, wrap_args, name, repeat):
    """Sweeps the original in `path`, wrapped with `wrap_args`, `repeat` times, each time to
    a recipient who is already known (a warm-up sweep first makes the recipient). Returns
    the best time, the worst peak RSS and the tunnel file's size."""
    sweep_cmd = inst.sweep_command()
    best, peak, tunnel_size = None, 0, 0
    for n in range(repeat):
        # A fresh wrap each run: the same envelope id twice would be a replay.
        tunnel = os.path.join(os.path.dirname(inst.dir), f"{name}-{n}.tunnel")
        wrap_original(inst, path, tunnel, wrap_args)
        tunnel_size = os.path.getsize(tunnel)
        inst.reset([warmup])
        subprocess.run(sweep_cmd, check=True)
        os.link(tunnel, os.path.join(inst.spool, "new", name))
        seconds, rss = measured(sweep_cmd)
        if not os.path.exists(os.path.join(inst.archive, name)):
            raise SystemExit(f"the {name} message was not accepted: " + " ".join(os.listdir(os.path.join(inst.spool, "failed"))))
        os.unlink(tunnel)
        best = seconds if best is None else min(best, seconds)
        peak = max(peak, rss)
    return best, peak, tunnel_size


def large_message_figures(inst, warmup, attachment_mib, repeat):
    """One tunnel message with `attachment_mib` MiB of attachments, to a known recipient."""
    work = os.path.dirname(inst.dir)
    path = os.path.join(work, "large.eml")
    write_in_child(path, lambda: large_original("alice@corp.test", "bob@ext.test", attachment_mib * MIB))
    best, peak, tunnel_size = one_message_sweeps(inst, warmup, path, [], "large", repeat)
    # What the sweep wrote for it under www/m (the sealed attachments and the sealed .eml):
    # with the disk's write + fsync rate, the ceiling no CPU work can beat.
    written = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(os.path.join(inst.www, "m")) for f in fs)
    # The peers on the same message (a fresh wrap of it), one core each.
    tunnel = os.path.join(work, "large-peer.tunnel")
    wrap_original(inst, path, tunnel)
    peers = peer_figures(inst, [tunnel], work, check_tampered=False)
    os.unlink(tunnel)
    # What any sweep costs: the same process over an empty spool (libraries, runtime, state).
    inst.reset([])
    _, empty = measured(inst.sweep_command())
    return {"attachments": attachment_mib * MIB, "original": os.path.getsize(path), "tunnel": tunnel_size,
            "seconds": best, "peak": peak, "empty": empty, "written": written,
            "disk": disk_write_rate(inst.www), "peers": peers}


def otp_figures(inst, warmup, repeat):
    """OTP mode (DESIGN §7): one `spoolrun run` of one otp-pdf message to a known recipient,
    which renders the PDF with libharu, encrypts it with qpdf and queues it as a mail; for a
    message with 20 MiB of attachments and for a 100-page text. Peak memory is held against
    DESIGN §10's bound, 3x the message size plus 50 MiB."""
    cases = [("20 MiB attachments", lambda: large_original("alice@corp.test", "bob@ext.test", 20 * MIB)),
             ("100-page text", lambda: long_text_original("alice@corp.test", "bob@ext.test"))]
    out = []
    for label, make in cases:
        path = os.path.join(os.path.dirname(inst.dir), "otp.eml")
        write_in_child(path, make)
        best, peak, _ = one_message_sweeps(inst, warmup, path, ["--otp-pdf"], "otp", repeat)
        out.append((label, os.path.getsize(path), best, peak))
        os.unlink(path)
    return out


def memory_figures(inst, work, many_count, mailboxes, size):
    """Memory per message: `many_count` messages spread over `mailboxes` known recipients
    (each mailbox's index.json is rewritten whole, so one mailbox of 10,000 would measure
    the index, not the sweep), one sweep of them on both cores, its RSS sampled. Leaves them
    archived for the reprocess figures."""
    print(f"making {many_count} tunnel messages to {mailboxes} recipients ...", file=sys.stderr)
    inst.set_workers(2)
    sweep_cmd = inst.sweep_command()
    many_dir = os.path.join(work, "many")
    os.mkdir(many_dir)
    firsts = []
    for n in range(mailboxes):
        group = os.path.join(many_dir, f"r{n:03d}")
        os.mkdir(group)
        make_corpus(inst, group, many_count // mailboxes, size, f"r{n:03d}@ext.test")
        firsts.append(sorted(glob.glob(os.path.join(group, "*")))[0])
    many = sorted(glob.glob(os.path.join(many_dir, "r*", "*")))
    inst.reset(firsts)
    subprocess.run(sweep_cmd, check=True)  # the recipients' first contacts
    first_set = set(firsts)
    inst.deliver([m for m in many if m not in first_set])
    flat_first = 100
    seconds, first, peak, archived, samples, quarters = sampled_sweep(sweep_cmd, inst.archive, len(firsts) + flat_first)
    if archived != len(many):
        raise SystemExit(f"only {archived} of {len(many)} messages were swept")
    return {"many": many, "swept": len(many) - len(firsts), "recipients": len(firsts), "first": first,
            "flat_first": flat_first, "peak": peak, "samples": samples, "quarters": quarters, "seconds": seconds}
