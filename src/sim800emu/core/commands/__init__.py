"""The command families; importing this package registers every command."""

from . import basic, bearer, context, dns, links, network, server

__all__ = ["basic", "bearer", "context", "dns", "links", "network", "server"]
