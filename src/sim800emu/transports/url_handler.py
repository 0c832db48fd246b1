"""A pyserial port backed by an in-process modem: ``sim800://[?options]``.

    import serial
    from sim800emu.transports import register_url_handler

    register_url_handler()
    port = serial.serial_for_url("sim800://?host=echo.test=127.0.0.1&dns-offline", timeout=1)
    port.write(b"AT\\r")

Every option of ``sim800emu serve`` (without the leading ``--``) may be given
as a query parameter; flags take no value (or ``1``/``true``/``yes``/``on``,
and ``0``/``false``/``no``/``off`` to leave them out). Repeatable options are
repeated: ``?host=a.test=127.0.0.1&host=b.test=127.0.0.2``. ``profile=FILE``
reads defaults from a TOML profile (the URL's options win; a missing or bad
file is an error). Settings are only persisted when ``state-dir=DIR`` is
given. The user's documentation is ``docs/url.md``. Serial settings (baud rate,
parity, ...) are accepted and ignored, as on the module's auto-bauding UART.

Each opened port is a fresh modem; closing the port stops it. The port also
plays the far end of a voice call: ``port.ring("+4915112345678")``,
``port.hangup()``, ``port.dtmf("12#")``; ``port.ri`` is on while a call rings.
It plays the SMS centre too: ``port.send_sms("+447700900123", "Hello")`` delivers
a message, ``port.outbox()`` lists what the modem sent.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import errno
import fcntl
import select
import socket
import termios
import time
import urllib.parse
from typing import Any

from serial.serialutil import (
    PortNotOpenError,
    SerialBase,
    SerialException,
    SerialTimeoutException,
    Timeout,
)

from ..cli import OptionError, add_serve_options, build_spec, parse_serve_options
from ..core.events import CallerDtmf, CallerHangup, IncomingCall, Result, SmsIncoming
from ..runtime import ModemSpec
from ..trafficlog import TrafficLog
from .inprocess import InProcessModem

SCHEME = "sim800"
_TRUE = {"", "1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# serve options that make no sense in-process (its modems share one asyncio
# loop in a background thread: no loop= either)
_REFUSED = {"transport", "link", "tcp-host", "tcp-port", "loop", "help"}


def url_to_argv(url: str) -> list[str]:
    """The ``serve`` command line equivalent to ``url`` (``ValueError`` if bad)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"expected a URL of the form {SCHEME}://[?option=value&...], got {url!r}")
    if parts.netloc or parts.path.strip("/"):
        raise ValueError(f"{url!r}: options go in the query part: {SCHEME}://?option=value")
    probe = argparse.ArgumentParser(add_help=False)
    add_serve_options(probe)
    flags: set[str] = set()
    known: set[str] = set()
    for action in probe._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                known.add(opt[2:])
                if action.nargs == 0:
                    flags.add(opt[2:])
    argv: list[str] = []
    for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True):
        name = key.strip().lstrip("-")
        if name in _REFUSED or name not in known:
            raise ValueError(f"unknown option {key!r} in {url!r}")
        if name in flags:
            low = value.strip().lower()
            if low in _TRUE:
                argv.append(f"--{name}")
            elif low not in _FALSE:
                raise ValueError(f"option {name!r} takes no value (or true/false), got {value!r}")
        else:
            argv += [f"--{name}", value]
    return argv


def spec_for_url(url: str) -> ModemSpec:
    """The ``ModemSpec`` for ``url`` (``ValueError`` if an option is bad)."""
    argv = url_to_argv(url)
    try:
        args = parse_serve_options(argv)
    except OptionError as exc:
        raise ValueError(f"{url!r}: {exc}") from None
    traffic = TrafficLog.open(args.log) if args.log is not None else None
    return build_spec(args, persistent=False, traffic=traffic)


class Serial(SerialBase):
    """pyserial ``Serial`` for ``sim800://`` URLs."""

    BAUDRATES = (
        1200,
        2400,
        4800,
        9600,
        19200,
        38400,
        57600,
        115200,
        230400,
        460800,
    )

    _modem: InProcessModem | None = None
    _sock: socket.socket | None = None

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        try:
            spec = spec_for_url(self.port)
        except (ValueError, OSError) as exc:
            raise SerialException(str(exc)) from None
        modem = InProcessModem(spec, name="")
        try:
            sock = modem.open()
        except Exception as exc:
            modem.close()
            raise SerialException(f"cannot start the in-process modem: {exc}") from exc
        self._modem = modem
        self._sock = sock
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        sock, self._sock = self._sock, None
        modem, self._modem = self._modem, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
        if modem is not None:
            modem.close()

    def _reconfigure_port(self, *args: object, **kwargs: object) -> None:
        """Serial settings do not matter to the emulated UART."""

    def fileno(self) -> int:
        return self._socket().fileno()

    def _socket(self) -> socket.socket:
        if not self.is_open or self._sock is None:
            raise PortNotOpenError()
        return self._sock

    @property
    def in_waiting(self) -> int:
        sock = self._socket()
        buf = array.array("i", [0])
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf)
        return int(buf[0])

    def read(self, size: int = 1) -> bytes:
        sock = self._socket()
        if size < 0:
            size = max(self.in_waiting, 1)
        data = bytearray()
        timeout = Timeout(self.timeout)  # type: ignore[arg-type]
        while len(data) < size:
            wait = None if timeout.is_infinite else max(timeout.time_left(), 0.0)
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                break
            try:
                chunk = sock.recv(size - len(data))
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                raise SerialException(f"read failed: {exc}") from exc
            if not chunk:
                raise SerialException("the in-process modem stopped")
            data += chunk
            if timeout.expired():
                break
        return bytes(data)

    def write(self, b: Any, /) -> int:
        sock = self._socket()
        data = memoryview(b).cast("B")
        total = len(data)
        timeout = Timeout(self.write_timeout)  # type: ignore[arg-type]
        sent = 0
        while sent < total:
            wait = None if timeout.is_infinite else max(timeout.time_left(), 0.0)
            _, ready, _ = select.select([], [sock], [], wait)
            if not ready:
                raise SerialTimeoutException("Write timeout")
            try:
                sent += sock.send(data[sent:])
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                    raise SerialException("the in-process modem stopped") from exc
                raise SerialException(f"write failed: {exc}") from exc
        return total

    def flush(self) -> None:
        self._socket()

    def reset_input_buffer(self) -> None:
        sock = self._socket()
        while True:
            ready, _, _ = select.select([sock], [], [], 0)
            if not ready:
                return
            try:
                if not sock.recv(65536):
                    return
            except (BlockingIOError, InterruptedError):
                return

    def reset_output_buffer(self) -> None:
        self._socket()

    @property
    def out_waiting(self) -> int:
        self._socket()
        return 0

    def send_break(self, duration: float = 0.25) -> None:
        self._socket()

    def _update_break_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    @property
    def cts(self) -> bool:
        self._socket()
        return True

    @property
    def dsr(self) -> bool:
        self._socket()
        return True

    @property
    def ri(self) -> bool:
        """The ring indicator: on while an incoming call rings."""
        self._socket()
        return self._modem is not None and self._modem.ringing

    # ------------------------------------------------------------ the far end of a call

    def ring(self, number: str) -> None:
        """Someone calls the modem from ``number`` (``sim800emu ctl SOCK ring``)."""
        self._deliver(IncomingCall(number))

    def hangup(self, number: str = "") -> None:
        """The other party of the newest call (or of the call with
        ``number``) hangs up (NO CARRIER)."""
        self._deliver(CallerHangup(number=number))

    def dtmf(self, keys: str) -> None:
        """The other party presses ``keys`` (+DTMF with AT+DDET=1)."""
        self._deliver(CallerDtmf(keys))

    # ------------------------------------------------------------ the SMS centre

    def send_sms(self, sender: str, text: str) -> None:
        """An incoming SMS from ``sender``; a long text arrives in
        concatenated parts (``sim800emu ctl SOCK sms``)."""
        self._deliver(SmsIncoming(sender, text, time.time()))

    def outbox(self) -> list[dict[str, Any]]:
        """The SMS the modem sent, oldest first: dicts of time, from, to,
        text, encoding, parts, reference (``sim800emu ctl SOCK outbox``)."""
        self._socket()
        if self._modem is None:
            raise PortNotOpenError()
        centre = self._modem.spec.centre
        return [dict(m) for m in list(centre.messages)] if centre is not None else []

    def _deliver(self, result: Result) -> None:
        self._socket()
        if self._modem is None:
            raise PortNotOpenError()
        self._modem.deliver(result)

    @property
    def cd(self) -> bool:
        self._socket()
        return True
