"""spoolrun benchmarks (`make bench`, `make profile`): figures and ratios measured in one run.

Intake throughput of 20 KB tunnel messages on one core and on two, against the machine's
own `openssl speed rsa2048` private-key rate (DESIGN §10). Messages are made once by
Tests/Support/tunnel_factory.py (openssl CLI, detached signature, AES-256-GCM), signed with
the installation's gateway key; before each run the spool and the state are reset, so every
run takes in the same files with a fresh state store.

A large message: an original with 25 MiB of attachments (random bytes, base64), wrapped by
`spoolrun wrap`, swept by `spoolrun run` to a known recipient. MB/s is the attachments' MiB
over the wall time of the whole sweep (process start to exit, first contact excluded); peak
memory is that process's maximum RSS (wait4's rusage, so no earlier child counts), against
3x the attachments plus 50 MiB. An empty sweep's peak RSS is shown for the fixed part.

Memory per message: one sweep of 10,000 messages spread over 100 known recipients, its RSS
sampled from /proc while it runs, against the RSS once the first 100 were archived. Then
`reprocess --all` of those 10,000 archived messages (DESIGN §10: under 20 s).

Two peers, on the same 20 KB messages, one core each: the openssl CLI pipeline
(bench/openssl_peer.sh: `openssl cms -decrypt | openssl cms -verify` per message) and a
Python script (bench/python_peer.py: cryptography, asn1crypto, email, nh3), each first shown
to refuse a tampered message.

The bench knows an installation only through spoolrun's commands and the folders DESIGN §3
names (spool/, www/m/, keys/); it never opens the state store.

Modules: installation (the installation the bench sweeps, and resetting it), corpus (the
messages), measure (timing and memory of one process), peers (the openssl and Python
yardsticks), figures (each group of figures), report (the tables), perf (`--profile`), and
__main__ (the command line).
"""
import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1024 * 1024


def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
