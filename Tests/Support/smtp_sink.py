#!/usr/bin/env python3
"""A real SMTP server for the tests of spoolrun's outgoing mail (aiosmtpd, Debian package
python3-aiosmtpd), listening on 127.0.0.1 only.

    smtp_sink.py --dir DIR --ready FILE [--port N] [--lifetime SECONDS]

Each message it accepts is stored as DIR/<n>.eml (the DATA bytes as received, dot-unstuffed,
nothing added) and its envelope as DIR/<n>.json: {"mail_from", "rcpt_tos", "mail_options",
"rcpt_options", "helo", "peer"}. Both are written to a temporary name, flushed and renamed,
the .json first: whoever sees <n>.eml also finds its whole <n>.json. n counts from 1.

With --port 0 (the default) the system picks a free port. When the server listens, FILE is
written (atomically) with {"port": N, "pid": PID}. The server exits by itself after
--lifetime seconds (default 900), on SIGTERM or SIGINT, so a test that dies cannot leave it
running for long.
"""
import argparse
import asyncio
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP


def write_atomically(path, data):
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class Store:
    """The aiosmtpd handler: one pair of files per message."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = self.count
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "helo": session.host_name,
            "peer": list(session.peer) if session.peer else None,
        }
        content = envelope.original_content
        if content is None:
            content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        write_atomically(os.path.join(self.directory, f"{n}.json"), json.dumps(meta).encode())
        write_atomically(os.path.join(self.directory, f"{n}.eml"), content)
        return "250 Message accepted for delivery"


async def serve(args):
    os.makedirs(args.dir, exist_ok=True)
    loop = asyncio.get_running_loop()
    store = Store(args.dir)
    server = await loop.create_server(
        lambda: SMTP(store, hostname="sink.test", ident="spoolrun test sink", loop=loop, enable_SMTPUTF8=True),
        host="127.0.0.1", port=args.port)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_atomically(args.ready, json.dumps({"port": port, "pid": os.getpid()}).encode())
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.lifetime)
    except asyncio.TimeoutError:
        print(f"smtp_sink: lifetime of {args.lifetime} s is over; exiting", file=sys.stderr)
    server.close()
    await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--lifetime", type=float, default=900)
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
