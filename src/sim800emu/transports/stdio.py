"""stdin/stdout as the serial line (for socat, ser2net, or piping a script).

Binary and raw: when stdin is a terminal it is put in raw mode for the run
(restored on close), so Ctrl-C, Ctrl-Z and CR reach the modem as bytes.
End of input on stdin ends the run. Logs go to stderr, never to stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import termios
from typing import Any

from .fdline import FdLine
from .pty import make_raw


class StdioPort:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        read_fd: int | None = None,
        write_fd: int | None = None,
    ) -> None:
        if read_fd is None:
            read_fd = sys.stdin.fileno()
        if write_fd is None:
            sys.stdout.flush()
            write_fd = sys.stdout.fileno()
        self.path = "stdin/stdout"
        self._tty_attrs: list[Any] | None = None
        self._read_fd = read_fd
        if os.isatty(read_fd):
            self._tty_attrs = termios.tcgetattr(read_fd)
            make_raw(read_fd)
        self.line = FdLine(read_fd, write_fd, loop=loop, owns_fds=False)

    async def aclose(self, flush_timeout: float = 1.0) -> None:
        if not self.line.closed:
            await self.line.drain(flush_timeout)
        self.close()

    def close(self) -> None:
        self.line.close()
        if self._tty_attrs is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(self._read_fd, termios.TCSADRAIN, self._tty_attrs)
            self._tty_attrs = None
