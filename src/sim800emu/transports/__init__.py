"""The serial side: pty, raw TCP server, stdio, and the in-process
``sim800://`` pyserial URL handler."""

from __future__ import annotations

PACKAGE = "sim800emu.transports"


def register_url_handler() -> None:
    """Make ``serial.serial_for_url("sim800://...")`` open an in-process
    modem (adds this package to ``serial.protocol_handler_packages``)."""
    import serial

    if PACKAGE not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(PACKAGE)
