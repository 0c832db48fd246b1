"""Device fleets on Locust: every Locust user is one SIM800 (docs/locust.md).

    from locust import task, constant
    from sim800emu.locust import Sim800User

    class Tracker(Sim800User):
        wait_time = constant(5)
        modem_options = ["--timing", "realistic"]      # any `serve` option

        @task
        def report(self) -> None:
            m = self.modem                              # an AtClient
            m.at("AT+CGATT?", expect="+CGATT: 1", phase="attach")
            ...

Each user owns an in-process modem (no pty): the same core, network driver,
policy and shaping as ``sim800emu serve``, real sockets to the backend.
Its firmware is the user's tasks, written against ``sim800emu.atclient``;
every ``phase`` becomes a Locust request (type ``sim800``) with its time
and the bytes that crossed the serial line, a failure when it raised.

How it lives with gevent (Locust's users are greenlets, and importing
Locust monkey-patches the standard library): all modems of a process run
on one asyncio loop in one native thread (started with the unpatched
``_thread``, on an unpatched epoll selector). Each modem's serial line is a
socketpair: the loop owns one end, the user's greenlet the other, a gevent
socket, so a greenlet waiting for an answer only waits on its socket and
never blocks the hub; nothing else crosses between the thread and the
greenlets except ``call_soon_threadsafe``.

Identity: user ``k`` of worker ``w`` is modem ``w * IDENTITY_STRIDE + k`` of
the fleet (``ModemSpec.nth``): IMEI, ICCID, IMSI, number and local IP unique
across workers and user classes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import gc
import importlib.util
import itertools
import logging
import os
import socket
import sys
import types
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar

import gevent
from gevent import monkey
from locust import User, events
from locust.env import Environment

from .atclient import AtClient
from .cli import OptionError, build_spec, parse_serve_options
from .core.config import Identity
from .runtime import ModemRunner, ModemSpec
from .transports.tcp import StreamLine

__all__ = ["IDENTITY_STRIDE", "AtClient", "Sim800User", "device_index"]

log = logging.getLogger(__name__)

IDENTITY_STRIDE = 100_000  # devices per worker before identities would repeat
REQUEST_TYPE = "sim800"
SWITCH_INTERVAL = 0.0005  # seconds: the GIL switch interval of a process with modems


# ------------------------------------------------------------ the loop thread


def _real_selectors() -> types.ModuleType:
    """A private copy of ``selectors`` built on the unpatched ``select``
    (gevent removes epoll from the patched one)."""
    real_select = types.ModuleType("select")
    real_select.__dict__.update(sys.modules["select"].__dict__)
    real_select.__dict__.update(monkey.saved.get("select", {}))
    spec = importlib.util.find_spec("selectors")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules["select"]
    sys.modules["select"] = real_select
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules["select"] = saved
    return module


class _NativeExecutor(concurrent.futures.ThreadPoolExecutor):
    """``run_in_executor`` on native threads (the patched ThreadPoolExecutor's
    threads would be greenlets of a hub that never runs in the loop thread)."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)  # its own threads are never started
        self._start = monkey.get_original("_thread", "start_new_thread")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self._start(work, ())
        return future


class _LoopThread:
    """One asyncio loop on one native thread per process (made again after
    a fork: ``--processes`` forks after importing the locustfile)."""

    _instance: ClassVar[_LoopThread | None] = None

    def __init__(self) -> None:
        selector = _real_selectors().DefaultSelector()
        self.loop = asyncio.SelectorEventLoop(selector)
        self.loop.set_default_executor(_NativeExecutor())
        self.pid = os.getpid()
        # two busy threads (this loop and gevent's hub) hand every answer
        # over: with the default 5 ms GIL switch interval each hand-over may
        # wait that long (measured: CIPSEND -> SEND OK median 47 ms -> 17 ms)
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        start = monkey.get_original("_thread", "start_new_thread")
        start(self._run, ())

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @classmethod
    def get(cls) -> _LoopThread:
        if cls._instance is None or cls._instance.pid != os.getpid():
            cls._instance = cls()
        return cls._instance

    def spawn(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``make()`` on the loop; never waits (errors are logged)."""

        def create() -> None:
            task = self.loop.create_task(make())
            task.add_done_callback(_log_failure)

        self.loop.call_soon_threadsafe(create)


def _freeze_fleet(**_kwargs: Any) -> None:
    """Every user is spawned: the fleet's objects (thousands of modems, their
    users and sockets) move to the collector's permanent generation, so a
    full collection no longer walks them all (measured: 350 ms pauses with
    1,000 devices on a loaded machine, each a stall of every device). What
    the devices allocate from now on is collected as usual; a device stopped
    before the process ends is not freed (Locust stops them all at the end)."""
    if _LoopThread._instance is not None and _LoopThread._instance.pid == os.getpid():
        gc.freeze()


events.spawning_complete.add_listener(_freeze_fleet)  # type: ignore[no-untyped-call]


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("in-process modem failed", exc_info=task.exception())


class GreenModem:
    """One modem on the loop thread; ``sock`` is the firmware's end of its
    serial line, a gevent socket."""

    def __init__(self, spec: ModemSpec, name: str = "") -> None:
        self._bg = _LoopThread.get()
        host_end, modem_end = socket.socketpair()
        real_socket = monkey.get_original("socket", "socket")
        real_end = real_socket(fileno=modem_end.detach())
        self.sock: socket.socket = host_end
        self.runner: ModemRunner | None = None
        self._line: StreamLine | None = None
        self._closed = False

        async def start() -> None:
            loop = asyncio.get_running_loop()
            line = StreamLine()
            try:
                await loop.connect_accepted_socket(lambda: line, real_end)
            except BaseException:
                real_end.close()
                raise
            self._line = line
            if self._closed:
                line.close()
                return
            self.runner = spec.create_runner(line, loop, name=name)
            self.runner.start()

        self._bg.spawn(start)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.sock.close()

        async def stop() -> None:
            if self.runner is not None:
                await self.runner.aclose()
            if self._line is not None:
                self._line.close()

        self._bg.spawn(stop)


# ------------------------------------------------------------ identity and specs


_counter = itertools.count()
_specs: dict[tuple[str, ...], ModemSpec] = {}


def device_index(environment: Environment) -> int:
    """The next device number of this process: unique across workers."""
    worker = getattr(environment.runner, "worker_index", 0) or 0
    return int(worker) * IDENTITY_STRIDE + next(_counter) % IDENTITY_STRIDE


def spec_for(options: Sequence[str]) -> ModemSpec:
    """The modem of ``serve`` ``options`` (made once per process and options)."""
    key = tuple(options)
    spec = _specs.get(key)
    if spec is None:
        try:
            args = parse_serve_options(list(options))
        except OptionError as exc:
            raise ValueError(f"modem_options {list(options)!r}: {exc}") from None
        if args.scenario is not None:
            from .scenario import load

            args.scenario_loaded = load(args.scenario)
        spec = _specs[key] = build_spec(args, persistent=False)
    return spec


def device_spec(options: Sequence[str], n: int) -> ModemSpec:
    """Device ``n``: its own identity and its own seed for drawn delays."""
    spec = spec_for(options).nth(n)
    timing = dataclasses.replace(spec.config.timing, seed=spec.config.timing.seed + n)
    return dataclasses.replace(spec, config=dataclasses.replace(spec.config, timing=timing))


# ------------------------------------------------------------ the user


class Sim800User(User):
    """One SIM800 and its firmware (the tasks). ``self.modem`` is the
    firmware's ``AtClient``; ``self.identity`` the device's IMEI, ICCID ...

    Class attributes: ``modem_options`` (``serve`` options: ``--timing
    realistic``, ``--network bad``, ``--scenario FILE``, ``--host-map`` ...),
    ``at_timeout`` (default seconds to wait for an answer). Subclasses that
    define ``on_stop`` need not call this one: the modem is also closed when
    the user's greenlet ends."""

    abstract = True
    modem_options: ClassVar[Sequence[str]] = ()
    at_timeout: ClassVar[float] = 30.0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.device_index = device_index(environment)
        spec = device_spec(self.device_options(), self.device_index)
        self.identity: Identity = spec.config.identity
        self._device = GreenModem(spec, name=self.identity.imei)
        self.modem = AtClient(self._device.sock, timeout=self.at_timeout,
                              observer=self._report)

    def device_options(self) -> Sequence[str]:
        """This device's ``serve`` options: ``modem_options`` unless a subclass
        chooses per device (``self.device_index`` is set; e.g. every tenth on
        ``--network bad``)."""
        return self.modem_options

    def _report(self, name: str, seconds: float, size: int,
                error: BaseException | None) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=seconds * 1000.0,
            response_length=size,
            exception=error,
            context={"imei": self.identity.imei},
        )

    def start(self, group: Any) -> Any:
        greenlet = super().start(group)
        greenlet.link(lambda _g: self._device.close())
        return greenlet

    def on_stop(self) -> None:
        self._device.close()


def sleep(seconds: float) -> None:
    """Wait without blocking other devices (``gevent.sleep``)."""
    gevent.sleep(seconds)
