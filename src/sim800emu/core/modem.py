"""The modem: serial bytes and network results in, serial bytes and requests out.

(Public interface; the implementation is being written.)
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import ModemConfig
from .events import Request, Result


class Modem:
    def __init__(
        self,
        config: ModemConfig | None = None,
        saved: Mapping[str, object] | None = None,
        now: float = 0.0,
    ) -> None:
        self.config = config or ModemConfig()
        self._out = bytearray()
        self._requests: list[Request] = []

    def feed(self, data: bytes, now: float) -> None:
        """Bytes from the serial line (any size, any content)."""

    def handle(self, result: Result, now: float) -> None:
        """A result from a driver (network, timer)."""

    def take_output(self) -> bytes:
        """Bytes to write to the serial line, in order (and forget them)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def take_requests(self) -> list[Request]:
        """Requests for the drivers, in order (and forget them)."""
        reqs = self._requests
        self._requests = []
        return reqs

    def shutdown(self, now: float) -> None:
        """The emulator is stopping: close every link (emits Close/StopListen)."""
