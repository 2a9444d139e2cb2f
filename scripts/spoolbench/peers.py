"""The two yardsticks on the same messages, one core each: the openssl CLI pipeline
(bench/openssl_peer.sh) and a Python script (bench/python_peer.py)."""
import glob
import json
import os
import shutil
import subprocess

from . import REPO
from .corpus import make_corpus
from .measure import timed


def peer_figures(inst, messages, work, check_tampered=True):
    """Messages per second of each peer on `messages`, pinned to core 0. Each must first
    refuse a tampered message, so a peer that checks nothing cannot look fast."""
    key, cert = os.path.join(inst.keys, "tunnel-recipient.key"), os.path.join(inst.keys, "tunnel-recipient.crt")
    pinned = os.path.join(inst.keys, "gateway-sender.crt")
    bad = os.path.join(work, "tampered")
    out = os.path.join(work, "peer-out")
    shutil.rmtree(bad, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    os.mkdir(bad)
    os.mkdir(out)
    openssl_cmd = [os.path.join(REPO, "bench", "openssl_peer.sh"), key, cert, pinned, out]
    python_cmd = ["python3", os.path.join(REPO, "bench", "python_peer.py"), "--key", key, "--gateway-cert", pinned]
    if check_tampered:
        refuses_tampered(inst, bad, openssl_cmd, python_cmd)
    seconds = timed(openssl_cmd + messages, "0")
    if len(os.listdir(out)) != len(messages):
        raise SystemExit("the openssl peer did not write every payload")
    result = json.loads(subprocess.run(["taskset", "-c", "0"] + python_cmd + messages, check=True,
                                       stdout=subprocess.PIPE, text=True).stdout)
    if result["messages"] != len(messages):
        raise SystemExit("the python peer did not read every message")
    shutil.rmtree(out, ignore_errors=True)
    return {"openssl": len(messages) / seconds, "python": len(messages) / result["seconds"]}


def refuses_tampered(inst, bad, openssl_cmd, python_cmd):
    """Each peer must refuse a message whose signed content was changed."""
    make_corpus(inst, bad, 1, tamper=True)
    tampered = glob.glob(os.path.join(bad, "*"))
    # (openssl writes -out before it verifies: the tampered run writes into `bad`.)
    for name, cmd in (("openssl", openssl_cmd[:-1] + [bad]), ("python", python_cmd)):
        if subprocess.run(cmd + tampered, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            raise SystemExit(f"the {name} peer accepted a tampered message")
