"""Dial-up data: PPP over the serial line (ATD*99#, AT+CGDATA).

* ``hdlc``: RFC 1662 framing (flags, byte stuffing, ACCM, FCS-16);
* ``link``: the module's side of LCP, PAP/CHAP and IPCP (RFC 1661, 1334,
  1994, 1332, 1877);
* ``terminator``: the client's IPv4 traffic ended here, slirp-like, every
  TCP connection and UDP flow re-originated through the modem's network
  requests (so policy, routes, shaping and faults apply);
* ``session``: the three joined to one modem (its timers and sockets).

All of it is sans-I/O: it talks to the world only through ``PppHost``.
"""
