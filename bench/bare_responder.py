"""The floor for any emulator: a pty that answers ``\\r\\nOK\\r\\n`` to every
CR-terminated line and does nothing else.

No asyncio, no parsing: one blocking ``os.read`` on the pty master, one
``os.write`` of all the answers that read completed. It keeps its own
descriptor to the slave open (so the master never sees EIO between clients)
and publishes the slave as a symlink, like ``sim800emu serve --link``.

    python bench/bare_responder.py --link /tmp/bare
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from sim800emu.transports.pty import make_raw

OK = b"\r\nOK\r\n"


def serve(master: int) -> None:
    """Answer OK to every CR read from ``master``, forever."""
    while True:
        data = os.read(master, 4096)
        if not data:
            return
        n = data.count(b"\r")
        if n:
            os.write(master, OK * n)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="A bare pty responder: answers OK to every CR-terminated line "
        "(the latency floor the AT benchmark compares sim800emu against)."
    )
    parser.add_argument("--link", type=Path, help="make PATH a symlink to the pty's slave")
    args = parser.parse_args(argv)

    master, slave = os.openpty()
    make_raw(slave)
    path = os.ttyname(slave)
    link: Path | None = args.link
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        if link is not None:
            tmp = link.with_name(f".{link.name}.tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            os.symlink(path, tmp)
            os.replace(tmp, link)
        print(
            f"bare responder: {path}" + (f" (linked at {link})" if link else ""),
            file=sys.stderr,
            flush=True,
        )
        serve(master)
    finally:
        if link is not None:
            with contextlib.suppress(OSError):
                link.unlink()
        os.close(master)
        os.close(slave)
    return 0


if __name__ == "__main__":
    sys.exit(main())
