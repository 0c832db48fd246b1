"""GPRS settings of chapter 7 that no other family owns: quality of
service profiles (CGQREQ, CGQMIN), mobile class (CGCLASS), event reporting
(CGEREP) and the MO SMS service (CGSMS). Pure data, held as ``m.gprs``.

The PDP context itself (CGDCONT's APN, CGACT) stays with the IP stack.
"""

from __future__ import annotations

CIDS = (1, 2, 3)
# manual 19.8: every QoS parameter 0 except the reliability class, 3
DEFAULT_QOS = (0, 0, 3, 0, 0)
CLASSES = ("B", "CG", "CC")


class GprsState:
    __slots__ = ("apns", "cgerep", "cgsms", "mobile_class", "qos_min", "qos_req")

    def __init__(self) -> None:
        self.qos_req: dict[int, tuple[int, ...]] = {cid: DEFAULT_QOS for cid in CIDS}
        self.qos_min: dict[int, tuple[int, ...]] = {cid: (0, 0, 0, 0, 0) for cid in CIDS}
        self.mobile_class = "B"
        self.cgerep = 0
        self.cgsms = 1  # circuit switched
        # contexts 2 and 3 once AT+CGDCONT defines them (cid -> APN); context
        # 1 is always defined, its APN is ``Modem.pdp_apn``
        self.apns: dict[int, str] = {}

    def defined(self, cid: int) -> bool:
        """Is PDP context ``cid`` defined (ATD*99***<cid>#, AT+CGDATA)?"""
        return cid == 1 or cid in self.apns
