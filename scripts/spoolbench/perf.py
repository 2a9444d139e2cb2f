"""`--profile`: perf record (call graphs) of one 1-core sweep to a known recipient and of the
large message, summarised by library and by the heaviest call paths (docs/performance.md)."""
import os
import re
import subprocess

from . import MIB, sh
from .corpus import large_original, wrap_original, write_in_child


def perf_summary(data, title):
    """Where the samples of `data` went: by library, then the heaviest call paths."""
    print()
    print(f"profile: {title}")
    for sort, options, lines in (("dso", ["--no-children"], 10), ("symbol", ["--children"], 30)):
        out = sh("perf", "report", "-i", data, "--stdio", "-g", "none", "--sort", sort, *options).stdout
        rows = [line for line in out.splitlines() if "%" in line and not line.startswith("#")]
        if sort == "symbol":
            # Swift names demangled; without the call chain's roots, thunks and the kernel.
            text = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(rows),
                                  stdout=subprocess.PIPE, text=True, check=True).stdout
            noise = re.compile(r"\[k\]|0x0000|thunk|partial apply|dispatch|Dispatch|main|libc_start|guarded|"
                               r"Spoolrun\.|ParsableCommand|Parallel\.map|closure #")
            rows = [r for r in text.splitlines() if not noise.search(r)]
        print("\n".join(r[:160] for r in rows[:lines]))


def profile(inst, messages, attachment_mib, work):
    """perf record (call graphs, frame pointers) of one `spoolrun run` on one core to a
    known recipient, and of the large message: what DESIGN §10's gaps are made of."""
    inst.set_workers(1)
    sweep_cmd = inst.sweep_command()
    inst.reset([messages[0]])
    subprocess.run(sweep_cmd, check=True)
    inst.deliver(messages[1:])
    data = os.path.join(work, "perf-sweep.data")
    sh("perf", "record", "-F", "999", "-g", "-o", data, "--", "taskset", "-c", "0", *sweep_cmd)
    perf_summary(data, f"full sweep of {len(messages) - 1} messages of 20 KB, 1 core, known recipient")
    path = os.path.join(work, "large.eml")
    write_in_child(path, lambda: large_original("alice@corp.test", "bob@ext.test", attachment_mib * MIB))
    tunnel = os.path.join(work, "large.tunnel")
    wrap_original(inst, path, tunnel)
    inst.reset([messages[0]])
    subprocess.run(sweep_cmd, check=True)
    os.link(tunnel, os.path.join(inst.spool, "new", "large"))
    data = os.path.join(work, "perf-large.data")
    sh("perf", "record", "-F", "4999", "-g", "-o", data, "--", *sweep_cmd)
    perf_summary(data, f"the large message ({attachment_mib} MiB of attachments), known recipient")
