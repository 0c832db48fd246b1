"""The module's FTP client (manual chapter 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..modem import Modem


class FtpClient:
    def __init__(self, m: Modem) -> None:
        self.m = m

    def stop(self) -> None:
        pass

    def bearer_closed(self, cid: int) -> None:
        pass
