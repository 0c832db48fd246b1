"""pyserial looks for ``<package>.protocol_<scheme>``: this makes ``sim800://``
URLs work once ``sim800emu.transports`` is in
``serial.protocol_handler_packages`` (see :func:`register_url_handler`)."""

from .url_handler import Serial

__all__ = ["Serial"]
