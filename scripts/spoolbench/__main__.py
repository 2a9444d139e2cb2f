"""The command line of `make bench` and `make profile` (scripts/bench.py runs this):
`python3 scripts/bench.py --binary .build/release/spoolrun [options]`, or from scripts/,
`python3 -m spoolbench ...`."""
import argparse
import glob
import os
import shutil
import sys
import tempfile

from . import REPO
from .corpus import make_corpus
from .figures import (floor_figures, large_message_figures, memory_figures, otp_figures, reprocess_figures,
                      throughput_figures)
from .installation import Installation
from .peers import peer_figures
from .perf import profile
from .report import print_large, print_memory, print_otp, print_throughput


def arguments():
    ap = argparse.ArgumentParser(prog="bench.py", description="spoolrun benchmarks: figures and ratios measured in one run")
    ap.add_argument("--binary", default=os.path.join(REPO, ".build", "release", "spoolrun"))
    ap.add_argument("--messages", type=int, default=2000, help="messages for intake, sweep and the peers")
    ap.add_argument("--many", type=int, default=10000, help="messages for the memory sweep and reprocess")
    ap.add_argument("--mailboxes", type=int, default=100, help="recipients the --many messages go to")
    ap.add_argument("--size", type=int, default=20 * 1024)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported")
    ap.add_argument("--large-mib", type=int, default=25, help="MiB of attachments in the large message")
    ap.add_argument("--large-only", action="store_true", help="only the large-message figures")
    ap.add_argument("--otp-only", action="store_true", help="only the OTP PDF figures")
    ap.add_argument("--memory-only", action="store_true", help="only the memory-per-message figures")
    ap.add_argument("--profile", action="store_true",
                    help="instead of figures: perf profiles of a 1-core sweep of --messages and of the large message")
    args = ap.parse_args()
    if args.large_only or args.otp_only:
        args.messages = args.many = 1
    if args.memory_only:
        args.messages = 1
    return args


def main():
    args = arguments()
    work = tempfile.mkdtemp(prefix="spoolrun-bench.")
    try:
        inst = Installation(args.binary, work)
        inst.setup()
        corpus = os.path.join(work, "corpus")
        os.mkdir(corpus)
        print(f"making {args.messages} tunnel messages of {args.size} bytes ...", file=sys.stderr)
        make_corpus(inst, corpus, args.messages, args.size, "bob@ext.test")
        messages = sorted(glob.glob(os.path.join(corpus, "*")))
        mean_size = sum(os.path.getsize(m) for m in messages) / len(messages)
        if args.large_only:
            print_large(large_message_figures(inst, messages[0], args.large_mib, args.repeat), args.repeat)
            return
        if args.otp_only:
            print_otp(otp_figures(inst, messages[0], args.repeat), args.repeat)
            return
        if args.profile:
            profile(inst, messages, args.large_mib, work)
            return
        if args.memory_only:
            print_memory(memory_figures(inst, work, args.many, args.mailboxes, args.size))
            return

        # The full sweep is measured to known recipients: a first sweep with one message
        # makes the recipient (one PBKDF2 run, reported on its own line).
        warmup, measured = messages[0], messages[1:]
        bench_bin = os.path.join(os.path.dirname(args.binary), "spoolrun-bench")
        intake, sweeps, first_contact = throughput_figures(inst, bench_bin, warmup, measured, args.repeat)
        # The peers, on the same messages as intake and the sweep, one core each.
        peers = peer_figures(inst, measured, work)
        memory = memory_figures(inst, work, args.many, args.mailboxes, args.size)
        reprocess = reprocess_figures(inst, args.repeat)
        floor = floor_figures(inst, messages[0])
        print_throughput(len(messages), mean_size, args.repeat, intake, sweeps, first_contact, reprocess,
                         len(memory["many"]), floor, peers, memory)
        print_large(large_message_figures(inst, messages[0], args.large_mib, args.repeat), args.repeat)
        print_otp(otp_figures(inst, messages[0], args.repeat), args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
