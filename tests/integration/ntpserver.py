"""A tiny SNTP server on 127.0.0.1 for AT+CNTP tests: answers every client
request with a fixed or the current time, and counts the queries."""

from __future__ import annotations

import socket
import struct
import threading
import time

NTP_TO_UNIX = 2_208_988_800


class SntpServer:
    def __init__(self, fixed_unix_time: float | None = None) -> None:
        self.fixed = fixed_unix_time
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            if len(data) < 48 or data[0] & 0x07 != 3:
                continue
            self.queries += 1
            now = self.fixed if self.fixed is not None else time.time()
            secs = int(now) + NTP_TO_UNIX
            frac = int((now % 1) * 2**32)
            reply = bytearray(48)
            reply[0] = 0x24  # LI 0, version 4, mode 4 (server)
            reply[1] = 1  # stratum
            reply[24:32] = data[40:48]  # originate = client's transmit
            reply[32:40] = struct.pack("!II", secs, frac)
            reply[40:48] = struct.pack("!II", secs, frac)
            self.sock.sendto(bytes(reply), addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> SntpServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
