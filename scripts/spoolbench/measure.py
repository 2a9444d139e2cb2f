"""Timing and memory of one process: wall time, peak RSS from wait4, RSS sampled from /proc
while it runs, and the machine's own yardsticks (openssl speed, the disk's write rate)."""
import os
import re
import subprocess
import time

from . import MIB, sh


def timed(cmd, cpus):
    """Seconds `cmd` takes, pinned to `cpus` (a taskset list) when given."""
    if cpus:
        cmd = ["taskset", "-c", cpus] + cmd
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measured(cmd):
    """Runs `cmd`; returns (seconds, peak RSS in bytes) of that one child."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited with {child.returncode}")
    return seconds, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def rss_of(pid):
    """VmRSS of a running process in bytes, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def sampled_sweep(cmd, archive, first, interval=0.1):
    """Runs a sweep, sampling its RSS and the archived count every `interval` seconds.
    Returns (seconds, RSS once `first` messages were archived, peak sampled RSS after
    that, final archived count, samples)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd)
    samples = []
    while child.poll() is None:
        rss = rss_of(child.pid)
        archived = sum(1 for _ in os.scandir(archive))
        if rss is not None and child.poll() is None:
            samples.append((archived, rss))
        time.sleep(interval)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited with {child.returncode}")
    after = [rss for archived, rss in samples if archived >= first]
    if not after:
        raise SystemExit("the sweep ended before a sample after the first messages; use more messages")
    total = sum(1 for _ in os.scandir(archive))
    # The highest RSS sampled up to each quarter of the messages: a heap that grows with the
    # messages swept climbs quarter by quarter; one that has settled stays.
    quarters = [max([rss for archived, rss in samples if archived <= total * q / 4] or [0]) for q in (1, 2, 3, 4)]
    return seconds, after[0], max(after), total, len(samples), quarters


def disk_write_rate(directory, total=64 * MIB):
    """Bytes per second of writing `total` random bytes in 1 MiB writes and one fsync, in
    `directory` (the file system the sweep writes to)."""
    path = os.path.join(directory, ".bench-disk")
    chunk = os.urandom(MIB)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for _ in range(total // MIB):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    seconds = time.perf_counter() - start
    os.unlink(path)
    return total / seconds


def openssl_speed(algorithm, pattern):
    """The first figure after the times on the line of `openssl speed ALGORITHM` that matches."""
    out = sh("openssl", "speed", "-seconds", "3", algorithm).stdout
    for line in out.splitlines():
        m = re.match(pattern, line)
        if m:
            return float(m.group(1))
    raise SystemExit(f"could not read `openssl speed {algorithm}` output:\n" + out)


def openssl_rsa2048_sign_per_second():
    return openssl_speed("rsa2048", r"\s*rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)")


def openssl_ecdh_p256_per_second():
    return openssl_speed("ecdhp256", r"\s*256 bits ecdh \(nistp256\)\s+\S+s\s+([\d.]+)")
