"""The command families; importing this package registers every command."""

from . import (
    basic,
    bearer,
    charset,
    context,
    dns,
    ftp,
    http,
    links,
    network,
    server,
    sms,
    ussd,
    voice,
)

__all__ = [
    "basic", "bearer", "charset", "context", "dns", "ftp", "http", "links", "network", "server",
    "sms", "ussd", "voice",
]
