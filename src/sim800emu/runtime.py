"""Runs one modem: the pure core, a network driver and a serial line on one loop.

``ModemRunner`` is the only place where the three meet:

* bytes read from the serial line go to ``Modem.feed``;
* results from the network driver (and fired timers) go to ``Modem.handle``;
* after every feed/handle the runner drains the core: requests first
  (timers become ``loop.call_at``, ``SaveSettings`` goes to the settings
  store, ``Reboot`` drops every link, socket requests go to the driver),
  then the serial output, written in one call.

Inputs are queued and processed one after another, never recursively, so a
driver that (against the contract) delivered a result synchronously from
``submit`` would still see the core finish its current step first.

Time is ``loop.time()``: the same clock ``StartTimer.at`` is expressed in.

Flow control, both ways, keeps memory bounded:

* serial side slow (its write backlog above ``serial_high``): the driver
  stops reading every socket (``pause_all``) until the backlog is back
  under ``serial_low``;
* network side slow: the core itself keeps each link's send buffer bounded
  (the driver reports ``Congestion``; the core refuses sends to a full link,
  and in transparent mode asks for ``HoldSerial``, which stops reading the
  serial line). The line is never stopped for the network otherwise, so one
  stalled peer never freezes the modem.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .core.config import ModemConfig
from .core.events import (
    CallAnswered,
    CallEnded,
    CallOut,
    CallTransfer,
    CancelTimer,
    HoldSerial,
    PowerDown,
    Reboot,
    Request,
    Result,
    SaveSettings,
    SaveSim,
    SettingsSaved,
    SimContents,
    SmsSent,
    StartTimer,
    TimerFired,
)
from .pacing import PacedLine
from .smscentre import SmsCentre

if TYPE_CHECKING:
    from .callswitch import CallSwitch
from .store import SettingsStore
from .trafficlog import TrafficLog

log = logging.getLogger(__name__)

KiB = 1024


# ------------------------------------------------------------ the interfaces


class ModemLike(Protocol):
    """What the runner needs from ``sim800emu.core.modem.Modem``."""

    def feed(self, data: bytes, now: float) -> None: ...
    def handle(self, result: Result, now: float) -> None: ...
    def take_output(self) -> bytes: ...
    def take_requests(self) -> list[Request]: ...
    def shutdown(self, now: float) -> None: ...


class NetLike(Protocol):
    """What the runner needs from ``sim800emu.net.driver.NetDriver``."""

    def submit(self, req: Request) -> None: ...
    def pause_all(self) -> None: ...
    def resume_all(self) -> None: ...
    def write_backlog(self) -> int: ...
    def close_all(self) -> None: ...
    async def aclose(self) -> None: ...


Deliver = Callable[[Result], None]
NetFactory = Callable[[Deliver, asyncio.AbstractEventLoop], NetLike]
ModemFactory = Callable[[ModemConfig, "Mapping[str, object] | None", float], ModemLike]


class SerialSink(Protocol):
    """The runner, as a serial line sees it."""

    def serial_received(self, data: bytes) -> None: ...
    def serial_write_progress(self) -> None: ...
    def serial_closed(self, exc: BaseException | None) -> None: ...


class SerialLine(Protocol):
    """A transport's serial port, as the runner sees it.

    ``attach`` starts delivering read bytes to the sink. ``write`` never
    blocks: what cannot be written at once is buffered (``write_backlog``)
    and the sink's ``serial_write_progress`` is called whenever that buffer
    shrinks. ``serial_closed`` reports the end of the line (EOF of a TCP
    client, of stdin); a pty never ends.
    """

    def attach(self, sink: SerialSink) -> None: ...
    def detach(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    def write_backlog(self) -> int: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...


class Watcher(Protocol):
    """Sees what crosses the serial line and every finished step (a
    scenario's triggers, sim800emu/scenario.py)."""

    def host_bytes(self, data: bytes) -> None: ...
    def modem_bytes(self, data: bytes) -> None: ...
    def stepped(self) -> None: ...


class _NullNet:
    """A network driver that does nothing (used after close)."""

    def submit(self, req: Request) -> None:
        pass

    def pause_all(self) -> None:
        pass

    def resume_all(self) -> None:
        pass

    def write_backlog(self) -> int:
        return 0

    def close_all(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


# ------------------------------------------------------------ the runner


SERIAL_HIGH = 256 * KiB  # serial write backlog that stops reading the sockets
SERIAL_LOW = 64 * KiB  # ... and lets them go again
PACED_HIGH = 4 * KiB  # with --baud: what the module's UART buffer holds
PACED_LOW = 1 * KiB


class ModemRunner:
    """Glues one modem, one network driver and one serial line together."""

    # A fleet holds thousands of these (bench/fleet_memory.py): no __dict__.
    __slots__ = (
        "_busy",
        "_close_task",
        "_closed",
        "_closing",
        "_frozen",
        "_inbox",
        "_net_paused",
        "_on_closed",
        "_on_power_down",
        "_serial_paused",
        "_slips",
        "_started",
        "_timers",
        "baud",
        "bytes_in",
        "bytes_out",
        "centre",
        "loop",
        "modem",
        "name",
        "net",
        "paced",
        "powered_down",
        "saved",
        "serial",
        "serial_high",
        "serial_low",
        "sim_store",
        "store",
        "switch",
        "traffic",
        "watchers",
    )

    def __init__(
        self,
        modem: ModemLike,
        serial: SerialLine,
        net_factory: NetFactory,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        store: SettingsStore | None = None,
        traffic: TrafficLog | None = None,
        name: str = "",
        on_closed: Callable[[ModemRunner], None] | None = None,
        on_power_down: Callable[[ModemRunner], None] | None = None,
        sim_store: SettingsStore | None = None,
        centre: SmsCentre | None = None,
        baud: int = 0,
        switch: CallSwitch | None = None,
    ) -> None:
        self.loop = loop or asyncio.get_running_loop()
        self.paced: PacedLine | None = None
        self.serial_high, self.serial_low = SERIAL_HIGH, SERIAL_LOW
        if baud:
            # a UART at ``baud`` (or the rate AT+IPR fixes): the module's
            # few kilobytes of serial buffer, not the host's 256 KiB
            self.paced = serial = PacedLine(serial, self.loop, baud)
            self.serial_high, self.serial_low = PACED_HIGH, PACED_LOW
        self.baud = baud
        self.sim_store = sim_store  # the SIM's messages (SaveSim), per ICCID
        self.centre = centre
        self.switch = switch  # calls between the modems of the process
        self.modem = modem
        self.serial = serial
        self.store = store
        self.traffic = traffic
        if traffic is not None and hasattr(modem, "notes"):
            setattr(modem, "notes", [])  # noqa: B010  (the core decodes CMUX frames for the log)
        self.name = name
        if traffic is not None and getattr(modem, "ppp", None) is not None:
            # dial-up data: each PPP frame decoded on a line of the log
            modem.ppp.tap = functools.partial(traffic.ppp, tag=name)  # type: ignore[attr-defined]
        if baud:
            self._ppp_line_rate(baud)
        self.saved: dict[str, object] | None = None  # last settings saved (also without a store)
        self.powered_down = False
        self.bytes_in = 0  # serial bytes from the host (live status)
        self.bytes_out = 0  # serial bytes to the host
        self._on_closed = on_closed
        self._on_power_down = on_power_down
        # inputs that came while a step ran (or while frozen); made on first need
        self._inbox: collections.deque[bytes | Result] | None = None
        self._busy = False
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._net_paused = False  # we asked the driver to stop reading sockets
        self._serial_paused = False  # we stopped reading the serial line
        self._started = False
        self._closing = False
        # set once closed; made when someone waits for it (wait_closed)
        self._closed: asyncio.Event | None = None
        self._close_task: asyncio.Task[None] | None = None
        self.watchers: list[Watcher] = []
        self._frozen: asyncio.TimerHandle | None = None  # freeze(): until it fires
        self._slips: list[bytes] = []  # lines to slip before the next final result
        self.net: NetLike = net_factory(self.deliver, self.loop)

    # ---------------------------------------------------------- life cycle

    def start(self) -> None:
        """Attach to the serial line and run whatever the core has pending
        (a cold boot's timers, for instance). The modem answers from now on."""
        if self._started:
            return
        self._started = True
        self._busy = True  # bytes the line hands over at once wait for the boot output
        try:
            self.serial.attach(self)
            self._drain()
        finally:
            self._busy = False
        self._process()

    @property
    def closing(self) -> bool:
        return self._closing

    def _closed_event(self) -> asyncio.Event:
        if self._closed is None:
            self._closed = asyncio.Event()
        return self._closed

    async def wait_closed(self) -> None:
        await self._closed_event().wait()

    async def aclose(self) -> None:
        """Stop: the core closes its links (``shutdown``), its last requests
        and output are passed on, then the driver drops everything."""
        if self._closing:
            await self._closed_event().wait()
            return
        self._closing = True
        try:
            self._busy = True  # whatever the driver delivers now is dropped
            try:
                self.modem.shutdown(self.loop.time())
            except Exception:
                log.exception("%smodem shutdown failed", self._prefix())
            self._drain()
            self._inbox = None
            self._cancel_all_timers()
            if self._frozen is not None:
                self._frozen.cancel()
                self._frozen = None
            self.serial.detach()
            net, self.net = self.net, _NullNet()
            try:
                net.close_all()
                await net.aclose()
            except Exception:
                log.exception("%snetwork driver close failed", self._prefix())
        finally:
            if self.centre is not None:
                self.centre.unregister(self)
            if self.switch is not None:
                self.switch.unregister(self)
            self._closed_event().set()
            if self._on_closed is not None:
                self._on_closed(self)

    # ---------------------------------------------------------- inputs

    def deliver(self, result: Result) -> None:
        """A result from the network driver (called from the event loop)."""
        if self._closing:
            return
        self._process(result)

    def serial_received(self, data: bytes) -> None:
        if self._closing or not data:
            return
        if self.traffic is not None:
            self.traffic.host_to_modem(data, self.name)
        self.bytes_in += len(data)
        if self.watchers:
            self._queue(data)
            for watcher in self.watchers:  # what they do comes after these bytes
                watcher.host_bytes(data)
            self._process()
        else:
            self._process(data)

    def serial_write_progress(self) -> None:
        if self._net_paused and self.serial.write_backlog() <= self.serial_low:
            self._net_paused = False
            self.net.resume_all()

    def serial_closed(self, exc: BaseException | None) -> None:
        if exc is not None:
            log.info("%sserial line lost: %s", self._prefix(), exc)
        if not self._closing and self._close_task is None:
            self._close_task = self.loop.create_task(self.aclose())

    def _timer_fired(self, key: str) -> None:
        self._timers.pop(key, None)
        if self._closing:
            return
        self._process(TimerFired(key))

    # ---------------------------------------------------------- the core step

    def _queue(self, item: bytes | Result) -> None:
        inbox = self._inbox
        if inbox is None:
            inbox = self._inbox = collections.deque()
        inbox.append(item)

    def _process(self, item: bytes | Result | None = None) -> None:
        """Run what waits in the inbox and then ``item`` (if given), one step
        each, in order; while a step runs (or the modem is frozen) ``item``
        only queues."""
        if item is not None and (self._busy or self._frozen is not None or self._inbox):
            self._queue(item)
            item = None
        if self._busy or self._frozen is not None:
            return
        self._busy = True
        try:
            if item is not None:
                self._step(item)
            inbox = self._inbox
            while inbox and self._frozen is None:
                self._step(inbox.popleft())
        finally:
            self._busy = False

    def _step(self, item: bytes | Result) -> None:
        try:
            if isinstance(item, bytes):
                self.modem.feed(item, self.loop.time())
            else:
                self.modem.handle(item, self.loop.time())
        except Exception:
            log.exception("%smodem failed on %r", self._prefix(), item)
        self._drain()
        for watcher in self.watchers:
            watcher.stepped()

    def _drain(self) -> None:
        """Pass on what the core produced: requests, then serial output.

        Always called with ``_busy`` set, so a result delivered synchronously
        while a request is carried out only queues (and follows this output).
        """
        try:
            requests = self.modem.take_requests()
            output = self.modem.take_output()
        except Exception:
            log.exception("%smodem failed to hand over its output", self._prefix())
            return
        for req in requests:
            try:
                self._dispatch(req)
            except Exception:
                log.exception("%sfailed to carry out %r", self._prefix(), req)
        if output and self._slips:
            output = self._slip(output)
        if output:
            self._write(output)
        traffic = self.traffic
        if traffic is not None:
            notes = getattr(self.modem, "notes", None)
            if notes:
                for note in notes:
                    traffic.note(note, self.name)
                notes.clear()
        if self.paced is not None:
            self._follow_ipr(self.paced)

    def _write(self, output: bytes) -> None:
        if self.traffic is not None:
            self.traffic.modem_to_host(output, self.name)
        self.bytes_out += len(output)
        self.serial.write(output)
        for watcher in self.watchers:
            watcher.modem_bytes(output)
        if not self._net_paused and self.serial.write_backlog() > self.serial_high:
            self._net_paused = True
            self.net.pause_all()

    # ---------------------------------------------------------- field conditions

    def inject(self, data: bytes) -> None:
        """Bytes on the line that the module did not mean (noise, garbage)."""
        if not self._closing and data:
            self._write(data)

    def slip(self, line: str) -> None:
        """``line`` comes between the next command's answer and its final
        result, as a URC that arrives at the wrong moment."""
        self._slips.append(b"\r\n" + line.encode("latin-1") + b"\r\n")

    _FINALS = (b"\r\nOK\r\n", b"\r\nERROR\r\n", b"\r\n+CME ERROR:", b"\r\n+CMS ERROR:")

    def _slip(self, output: bytes) -> bytes:
        at = max(output.rfind(final) for final in self._FINALS)
        if at < 0:
            return output
        extra = b"".join(self._slips)
        self._slips.clear()
        return output[:at] + extra + output[at:]

    def freeze(self, seconds: float) -> None:
        """The module hangs for ``seconds``: nothing is read or answered,
        timers and network results wait; then it carries on with all of it."""
        if self._closing:
            return
        if self._frozen is not None:
            self._frozen.cancel()
        else:
            self.serial.pause_reading()
        self._frozen = self.loop.call_later(seconds, self._thaw)

    def _thaw(self) -> None:
        self._frozen = None
        if self._closing:
            return
        if not self._serial_paused:
            self.serial.resume_reading()
        self._process()

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def _follow_ipr(self, line: PacedLine) -> None:
        """The line runs at the rate AT+IPR fixed, or at ``--baud`` while the
        module autobauds (IPR 0). A new rate applies after the output of the
        step that set it (the OK of AT+IPR leaves at the old rate)."""
        settings = getattr(self.modem, "settings", None)
        ipr = getattr(settings, "ipr", 0)
        rate = ipr if isinstance(ipr, int) and ipr > 0 else self.baud
        if rate != (line.pending_rate or line.bps):
            line.set_rate(rate)
            self._ppp_line_rate(rate)

    def _ppp_line_rate(self, bps: int) -> None:
        """Dial-up data: the PPP session's model of the line (8N1)."""
        ppp = getattr(self.modem, "ppp", None)
        if ppp is not None:
            ppp.line_rate = bps / 10

    def _dispatch(self, req: Request) -> None:
        local = _LOCAL_REQUESTS.get(type(req))
        if local is None:
            self.net.submit(req)  # the network's (the common case: one lookup)
        else:
            local(self, req)

    def _start_timer(self, req: StartTimer) -> None:
        old = self._timers.pop(req.key, None)
        if old is not None:
            old.cancel()
        if not self._closing:
            self._timers[req.key] = self.loop.call_at(req.at, self._timer_fired, req.key)

    def _cancel_timer(self, req: CancelTimer) -> None:
        handle = self._timers.pop(req.key, None)
        if handle is not None:
            handle.cancel()

    def _on_hold_serial(self, req: HoldSerial) -> None:
        self._hold_serial(req.hold)

    def _on_save_settings(self, req: SaveSettings) -> None:
        # answered at once: the result follows this step (AT&W's OK/ERROR)
        self._queue(SettingsSaved(req.settings, self._save(req.settings)))

    def _on_save_sim(self, req: SaveSim) -> None:
        self._save_sim(req.data)

    def _on_sms_sent(self, req: SmsSent) -> None:
        if self.centre is not None:
            self.centre.submit(self, req)

    def _on_call(self, req: CallOut | CallAnswered | CallEnded | CallTransfer) -> None:
        if self.switch is not None:
            self.switch.handle(self, req)

    def _on_reboot(self, _req: Reboot) -> None:
        log.info("%smodem restarts: every link is dropped", self._prefix())
        self.net.close_all()
        if self._net_paused:
            self._net_paused = False
            self.net.resume_all()

    def _on_power_down_req(self, _req: PowerDown) -> None:
        log.info("%smodem powered down", self._prefix())
        self.powered_down = True
        if self._on_power_down is not None:
            self._on_power_down(self)

    def _save(self, settings: Mapping[str, object]) -> bool:
        """Store ``settings``; False (logged) when that failed."""
        if self.store is not None:
            try:
                self.store.save(settings)
            except (OSError, TypeError, ValueError) as exc:
                log.error("%scannot save settings to %s: %s", self._prefix(), self.store.path, exc)
                return False
        self.saved = dict(settings)
        return True

    def _save_sim(self, data: Mapping[str, object]) -> None:
        if self.sim_store is None:
            return
        try:
            self.sim_store.save(data)
        except (OSError, TypeError, ValueError) as exc:
            log.error("%scannot save the SIM's messages to %s: %s", self._prefix(),
                      self.sim_store.path, exc)

    def _cancel_all_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    # ---------------------------------------------------------- flow control

    def _hold_serial(self, hold: bool) -> None:
        if hold == self._serial_paused or self._closing:
            return
        self._serial_paused = hold
        if self._frozen is not None:
            return  # the thaw applies it
        if hold:
            self.serial.pause_reading()
        else:
            self.serial.resume_reading()

    @property
    def reading_paused(self) -> bool:
        """True while the serial line is not read (the core's HoldSerial)."""
        return self._serial_paused

    @property
    def network_paused(self) -> bool:
        """True while the driver was told to stop reading sockets."""
        return self._net_paused

    @property
    def timer_keys(self) -> list[str]:
        return list(self._timers)

    def _prefix(self) -> str:
        return f"[{self.name}] " if self.name else ""


# ------------------------------------------------------------ building runners


def _default_modem_factory(
    config: ModemConfig, saved: Mapping[str, object] | None, now: float
) -> ModemLike:
    from .core.modem import Modem

    # the host clock, for the network time of AT+CLTS=1
    return Modem(config, saved=saved, now=now, wall=time.time())


# The requests the runner carries out itself; every other goes to the network driver.
_LOCAL_REQUESTS: dict[type, Callable[[ModemRunner, Any], None]] = {
    StartTimer: ModemRunner._start_timer,
    CancelTimer: ModemRunner._cancel_timer,
    HoldSerial: ModemRunner._on_hold_serial,
    SaveSettings: ModemRunner._on_save_settings,
    SaveSim: ModemRunner._on_save_sim,
    SmsSent: ModemRunner._on_sms_sent,
    CallOut: ModemRunner._on_call,
    CallAnswered: ModemRunner._on_call,
    CallEnded: ModemRunner._on_call,
    CallTransfer: ModemRunner._on_call,
    Reboot: ModemRunner._on_reboot,
    PowerDown: ModemRunner._on_power_down_req,
}


@dataclass
class ModemSpec:
    """Everything needed to make a modem: one per serve process (or per URL);
    the TCP transport makes one runner per connection from it."""

    config: ModemConfig
    net_factory: NetFactory
    store: SettingsStore | None = None
    traffic: TrafficLog | None = None
    modem_factory: ModemFactory = field(default=_default_modem_factory)
    sim_store: SettingsStore | None = None  # the SIM's SMS storage, keyed by ICCID
    centre: SmsCentre | None = None  # shared by every modem made from this spec
    switch: CallSwitch | None = None  # likewise: calls between them
    baud: int = 0  # --baud: the serial line's bit rate (0: host speed)
    # called with every new runner before it starts (--scenario attaches its player)
    on_runner: Callable[[ModemRunner], None] | None = None

    def nth(self, n: int) -> ModemSpec:
        """Modem ``n`` of a fleet (``--count``, or the n-th TCP connection):
        its own identity, counted up from this one, and its own settings file."""
        if n == 0:
            return self
        from dataclasses import replace

        from .core.config import nth_config

        config = nth_config(self.config, n)
        store = self.store
        if store is not None:
            store = SettingsStore(store.state_dir, config.identity.imei)
        sim_store = self.sim_store
        if sim_store is not None:
            sim_store = SettingsStore(sim_store.state_dir, sim_key(config.identity.iccid))
        return replace(self, config=config, store=store, sim_store=sim_store)

    def create_runner(
        self,
        serial: SerialLine,
        loop: asyncio.AbstractEventLoop,
        *,
        name: str = "",
        on_closed: Callable[[ModemRunner], None] | None = None,
    ) -> ModemRunner:
        saved = self.store.load() if self.store is not None else None
        modem = self.modem_factory(self.config, saved, loop.time())
        runner = ModemRunner(
            modem,
            serial,
            self.net_factory,
            loop=loop,
            store=self.store,
            traffic=self.traffic,
            name=name,
            on_closed=on_closed,
            sim_store=self.sim_store,
            centre=self.centre,
            baud=self.baud,
            switch=self.switch,
        )
        sim = self.sim_store.load() if self.sim_store is not None else None
        if sim is not None:
            runner.deliver(SimContents(sim))  # the SIM's messages, like saved settings
        if self.centre is not None:
            self.centre.register(runner)
        if self.switch is not None:
            self.switch.register(runner)
        if self.on_runner is not None:
            self.on_runner(runner)
        return runner


def sim_key(iccid: str) -> str:
    """The state-directory key of a SIM's content (next to the IMEI-keyed settings)."""
    return f"sim-{iccid}"
