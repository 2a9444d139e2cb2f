"""The tables `make bench` prints: each figure, its target (DESIGN §10) and the ratio, and
the ratios between figures measured in the same run."""
from . import MIB

# DESIGN §10's targets were set on a machine where `openssl speed rsa2048` gave about 4,100
# signs/s per core. One RSA-2048 private-key operation per message is the floor of intake,
# so the targets are also shown scaled to this machine.
REFERENCE_RSA = 4100.0


def print_throughput(messages, mean_size, repeat, intake, sweeps, first_contact, reprocess, reprocessed, floor,
                     peers, memory):
    rsa, ecdh = floor["rsa"], floor["ecdh"]
    scale = rsa / REFERENCE_RSA
    forced, unchanged = reprocess
    print()
    print(f"spoolrun intake benchmark: {messages} messages, mean {mean_size / 1024:.1f} KiB,"
          f" AES-256-GCM + RSA-2048 detached signature, RSA-2048 tunnel key; best of {repeat}")
    print(f"{'figure':<44}{'value':>12}{'target':>10}{'ratio':>9}{'scaled target':>15}{'ratio':>9}")
    print(f"{'openssl speed rsa2048, private-key ops/s/core':<44}{rsa:>12.0f}")
    print(f"{'openssl speed ecdhp256, ops/s/core':<44}{ecdh:>12.0f}")
    print(f"{'floor: decrypt + pinned verify, 1 thread':<44}{floor['floor']:>12.0f}")
    for label, target in (("1 core", 800), ("2 cores", 1500)):
        rate = intake[label]
        print(f"{'intake msgs/s, ' + label + ' (durable, group commit)':<44}{rate:>12.0f}{target:>10}"
              f"{rate / target:>8.2f}x{target * scale:>15.0f}{rate / (target * scale):>8.2f}x")
    for label, target in (("1 core", 500), ("2 cores", 900)):
        rate = sweeps[label]
        print(f"{'full sweep msgs/s, ' + label + ' (known rcpt)':<44}{rate:>12.0f}{target:>10}"
              f"{rate / target:>8.2f}x{target * scale:>15.0f}{rate / (target * scale):>8.2f}x")
    print(f"{'first contact: sweep of 1 message, new rcpt, s':<44}{first_contact:>12.2f}")
    # DESIGN §10: reprocess --all of 10,000 archived messages in under 20 s.
    for label, seconds in (("reprocess --all s, every render new", forced), ("reprocess --all s, nothing changed", unchanged)):
        label = f"{label} ({reprocessed} msgs)"
        print(f"{label:<44}{seconds:>12.1f}{20:>10}{20 / seconds:>8.2f}x{20 / scale:>15.1f}{20 / scale / seconds:>8.2f}x")
    print(f"{'peer: openssl CLI pipeline msgs/s, 1 core':<44}{peers['openssl']:>12.0f}")
    print(f"{'peer: python script msgs/s, 1 core':<44}{peers['python']:>12.0f}")
    print(f"{'intake 1 core / openssl CLI pipeline':<44}{intake['1 core'] / peers['openssl']:>12.2f}")
    print(f"{'full sweep 1 core / openssl CLI pipeline':<44}{sweeps['1 core'] / peers['openssl']:>12.2f}")
    print(f"{'intake 1 core / python script':<44}{intake['1 core'] / peers['python']:>12.2f}")
    print(f"{'full sweep 1 core / python script':<44}{sweeps['1 core'] / peers['python']:>12.2f}")
    print_memory(memory)
    print(f"{'intake 1 core / openssl rsa2048 sign':<44}{intake['1 core'] / rsa:>12.3f}")
    print(f"{'intake 1 core / floor':<44}{intake['1 core'] / floor['floor']:>12.3f}")
    print(f"{'intake 2 cores / 1 core':<44}{intake['2 cores'] / intake['1 core']:>12.2f}")
    print(f"{'full sweep 1 core / openssl ecdhp256':<44}{sweeps['1 core'] / ecdh:>12.3f}")
    print(f"(scaled target = target x {rsa:.0f} / {REFERENCE_RSA:.0f}, this machine's RSA-2048 rate over the"
          f" reference machine's)")


def print_memory(m):
    growth = m["peak"] - m["first"]
    print(f"{'sweep of ' + str(m['swept']) + ' msgs to ' + str(m['recipients']) + ' rcpts, s':<44}{m['seconds']:>12.1f}")
    print(f"{'  RSS after the first ' + str(m['flat_first']) + ' archived, MiB':<44}{m['first'] / MIB:>12.1f}")
    print(f"{'  peak RSS after that, MiB':<44}{m['peak'] / MIB:>12.1f}")
    print(f"{'  growth per message after the first 100, B':<44}{growth / (m['swept'] - m['flat_first']):>12.0f}"
          f"   ({m['samples']} samples)")
    print(f"{'  peak RSS by quarter of the messages, MiB':<44}" + " ".join(f"{q / MIB:.1f}" for q in m["quarters"]))


def print_large(large, repeat):
    mib = large["attachments"] / MIB
    rate, peak = mib / large["seconds"], large["peak"] / MIB
    limit = 3 * mib + 50
    print()
    print(f"large message: {mib:.0f} MiB of attachments in 5 parts (original {large['original'] / MIB:.1f} MiB,"
          f" tunnel file {large['tunnel'] / MIB:.1f} MiB), one `spoolrun run`, known recipient;"
          f" time best of {repeat}, memory worst of {repeat}")
    print(f"{'figure':<44}{'value':>12}{'target':>10}{'ratio':>9}")
    print(f"{'large message MiB/s (attachments / sweep s)':<44}{rate:>12.1f}{150:>10}{rate / 150:>8.2f}x")
    print(f"{'large message sweep peak RSS, MiB':<44}{peak:>12.1f}{limit:>10.0f}{limit / peak:>8.2f}x")
    print(f"{'large message sweep, s':<44}{large['seconds']:>12.2f}")
    print(f"{'large message tunnel file MiB/s':<44}{large['tunnel'] / MIB / large['seconds']:>12.1f}")
    print(f"{'empty sweep peak RSS, MiB (fixed cost)':<44}{large['empty'] / MIB:>12.1f}")
    ceiling = large["attachments"] / (large["written"] / large["disk"]) / MIB
    print(f"{'sweep wrote under www/m, MiB':<44}{large['written'] / MIB:>12.1f}")
    print(f"{'disk: write + fsync MiB/s (64 MiB, 1 file)':<44}{large['disk'] / MIB:>12.1f}")
    print(f"{'disk ceiling MiB/s (attachments / write time)':<44}{ceiling:>12.1f}{150:>10}{ceiling / 150:>8.2f}x")
    for name, label in (("openssl", "openssl CLI pipeline"), ("python", "python script")):
        peer_rate = mib * large["peers"][name]
        print(f"{'peer: ' + label + ' MiB/s, 1 core':<44}{peer_rate:>12.1f}")
        print(f"{'large message / ' + label:<44}{rate / peer_rate:>12.2f}")
    print("(ratio >= 1.00x meets the target: rate / target, and memory limit / peak)")


def print_otp(rows, repeat):
    print()
    print(f"OTP PDF: one `spoolrun run` of one otp-pdf message, known recipient (render, encrypt AES-256 R6,"
          f" queue the mail); time best of {repeat}, memory worst of {repeat}")
    print(f"{'figure':<44}{'value':>12}{'limit':>10}{'ratio':>9}")
    for label, size, seconds, peak in rows:
        limit = 3 * size / MIB + 50
        print(f"{'otp ' + label + ', message MiB':<44}{size / MIB:>12.1f}")
        print(f"{'otp ' + label + ', sweep s':<44}{seconds:>12.2f}")
        print(f"{'otp ' + label + ', peak RSS MiB':<44}{peak / MIB:>12.1f}{limit:>10.0f}{limit / (peak / MIB):>8.2f}x")
    print("(ratio >= 1.00x meets the bound: 3 x message size + 50 MiB over the peak)")
