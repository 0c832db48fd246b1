"""The radio side of the module: functionality (CFUN), SIM readiness,
network registration (CREG/CGREG), GPRS attach, signal, the real-time
clock (CCLK) and the network time the operator sends (CLTS).

One object, held by the modem as ``m.radio``; the command modules of the
family (``commands/network.py``, ``commands/gprs.py``) read and change it,
the modem asks it for the registration rule and the time URCs. Pure: no
clock is read here. Wall time comes in as an argument: ``wall`` is the Unix
time at the modem's ``now`` of construction (the runtime passes the host
clock, tests a fixed value), so network time is ``wall + (now - start)``.

Sources: manual V1.12 3.2.32 (CREG), 3.2.35 (CSQ), 3.2.42 (CFUN), 3.2.43
(CCLK: local time, the zone in quarters of an hour, -47..+48), 6.2.12
(CLTS: ``*PSUTTZ`` is UTC, ``+CTZV``, ``DST``), 7.2.10 (CGREG).
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

from .config import ModemConfig

if TYPE_CHECKING:
    from .settings import Settings

UNIX_2004 = 1_072_915_200  # 2004-01-01, where the module's clock starts
EPOCH_2004 = _dt.datetime(2004, 1, 1)
REGISTERED = (1, 5)  # home, roaming


def zone_text(quarters: int) -> str:
    """``+08`` / ``-20``: the zone as CCLK prints it (two digits)."""
    sign = "-" if quarters < 0 else "+"
    return f"{sign}{abs(quarters):02d}"


class RadioState:
    """Registration, signal, attach, power and clocks of one module."""

    __slots__ = (
        "attached",
        "band",
        "ceng_mode",
        "ceng_ncell",
        "cfun",
        "cgreg_stat",
        "clock_base",
        "clock_set_at",
        "clock_tz",
        "config",
        "cops_format",
        "cops_mode",
        "creg_stat",
        "rssi",
        "sim_ready",
        "wall",
        "wall_at",
    )

    def __init__(self, config: ModemConfig, now: float, wall: float | None = None) -> None:
        self.config = config
        radio = config.radio
        self.cfun = 1
        self.sim_ready = True
        self.attached = True
        self.creg_stat = radio.creg_stat
        self.cgreg_stat = radio.cgreg_stat
        self.rssi = radio.rssi
        # CCLK: seconds since 2004-01-01 (local time) at clock_set_at
        self.clock_base = 0.0
        self.clock_set_at = now
        self.clock_tz = 0  # quarters of an hour
        self.wall = wall  # Unix time at wall_at (None: no network time known)
        self.wall_at = now
        self.cops_mode = 0  # AT+COPS: 0 automatic, 1 manual, 2 deregistered
        self.cops_format = 0  # 0 long, 1 short, 2 numeric
        self.band = "ALL_BAND"  # AT+CBAND
        self.ceng_mode = 0  # AT+CENG
        self.ceng_ncell = 0

    # ------------------------------------------------------------ registration

    @property
    def registered(self) -> bool:
        return self.cfun == 1 and self.creg_stat in REGISTERED

    @property
    def gprs_registered(self) -> bool:
        """Registered for GPRS with the radio on: a context can come up."""
        return self.cfun == 1 and self.cgreg_stat in REGISTERED

    def registration(self, n: int, stat: int) -> str:
        """``<stat>[,<lac>,<ci>]`` of CREG/CGREG: the location only with n=2
        and while registered (manual 3.2.32)."""
        radio = self.config.radio
        if n == 2 and stat in REGISTERED:
            return f'{stat},"{radio.lac}","{radio.ci}"'
        return str(stat)

    def radio_on(self) -> None:
        """CFUN=1 (or a reboot): SIM up, registered and attached as configured."""
        self.cfun = 1
        self.sim_ready = True
        if self.cops_mode == 2:  # AT+COPS=2 stays (the manual's AUTO_SAVE)
            self.deregister()
            return
        self.attached = True
        self.creg_stat = self.config.radio.creg_stat
        self.cgreg_stat = self.config.radio.cgreg_stat

    def deregister(self) -> None:
        """AT+COPS=2: off the network, radio on."""
        self.attached = False
        self.creg_stat = self.cgreg_stat = 0

    @property
    def mcc(self) -> str:
        return self.config.identity.imsi[:3]

    @property
    def mnc(self) -> str:
        return self.config.identity.imsi[3:5]

    def operator(self, fmt: int) -> str:
        """The operator as COPS prints it in ``fmt`` (long, short, numeric)."""
        if fmt == 2:
            return self.mcc + self.mnc
        return self.config.identity.operator

    def radio_off(self, fun: int) -> None:
        """CFUN=0 or 4: no network; with 0 the SIM is off too."""
        self.cfun = fun
        self.attached = False
        self.sim_ready = self.sim_ready and fun == 4  # 4 keeps the SIM as it was
        self.creg_stat = self.cgreg_stat = 0

    def csq(self) -> tuple[int, int]:
        """``<rssi>,<ber>``: 99,99 when not registered or the signal is not
        detectable (rssi 99: no bit error rate can be measured either)."""
        if not self.registered or self.rssi == 99:
            return 99, 99
        return self.rssi, self.config.radio.ber

    # ------------------------------------------------------------ clock

    def clock_seconds(self, now: float) -> float:
        return self.clock_base + (now - self.clock_set_at)

    def cclk(self, now: float) -> str:
        """``yy/MM/dd,hh:mm:ss±zz`` (manual 3.2.43)."""
        t = EPOCH_2004 + _dt.timedelta(seconds=int(self.clock_seconds(now)))
        return f"{t:%y/%m/%d,%H:%M:%S}{zone_text(self.clock_tz)}"

    def set_clock(self, text: str, now: float) -> bool:
        """AT+CCLK=<time>: False when ``text`` is not a valid time."""
        if len(text) != 20 or text[17] not in "+-" or not text[18:].isdecimal():
            return False
        try:
            t = _dt.datetime.strptime(text[:17], "%y/%m/%d,%H:%M:%S")
        except ValueError:
            return False
        zone = int(text[17:])
        if not -47 <= zone <= 48:
            return False
        self.clock_base = (t - EPOCH_2004).total_seconds()
        self.clock_set_at = now
        self.clock_tz = zone
        return True

    def set_clock_unix(self, unix: float, zone: int, now: float) -> None:
        """Set the clock from a UTC time and a zone (NTP, network time)."""
        self.clock_base = unix - UNIX_2004 + zone * 900
        self.clock_set_at = now
        self.clock_tz = zone

    def registration_urcs(self, settings: Settings, now: float) -> list[str]:
        """After a registration change: +CREG/+CGREG per their <n> (1, 2),
        then the network's time (CLTS=1)."""
        lines = [
            f"{name}: {self.registration(n, stat)}"
            for n, name, stat in (
                (settings.creg_n, "+CREG", self.creg_stat),
                (settings.cgreg_n, "+CGREG", self.cgreg_stat),
            )
            if n in (1, 2)
        ]
        return lines + self.time_urcs(settings.clts, now)

    # ------------------------------------------------------------ network time

    def time_urcs(self, clts: int, now: float) -> list[str]:
        """With AT+CLTS=1, registered and the SIM ready: the network sends
        its time (``network_time_urcs``); otherwise nothing."""
        if clts and self.registered and self.sim_ready:
            return self.network_time_urcs(now)
        return []

    def network_time_urcs(self, now: float) -> list[str]:
        """What the module prints when the network sends its time (CLTS=1,
        manual 6.2.12), and sets the clock from it. Empty when no wall time
        is known (a core driven without one)."""
        if self.wall is None:
            return []
        unix = self.wall + (now - self.wall_at)
        zone = self.config.radio.timezone
        dst = self.config.radio.dst
        self.set_clock_unix(unix, zone, now)
        utc = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=int(unix))
        sign = "-" if zone < 0 else "+"
        tz = f"{sign}{abs(zone)}"
        return [
            f'*PSUTTZ: {utc.year},{utc.month},{utc.day},{utc.hour},{utc.minute},{utc.second},'
            f'"{tz}",{dst}',
            f'+CTZV: "{tz}"',
            f"DST: {dst}",
        ]
