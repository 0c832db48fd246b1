"""The command families; importing this package registers every command."""

from . import basic, bearer, charset, context, dns, links, network, server

__all__ = ["basic", "bearer", "charset", "context", "dns", "links", "network", "server"]
