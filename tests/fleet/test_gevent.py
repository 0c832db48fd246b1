"""The in-process modems of sim800emu.locust never block gevent's hub: while
one device waits for a slow answer, the others and every other greenlet run.
In a subprocess, since importing Locust monkey-patches the standard library."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import pytest

# Not importorskip: importing Locust monkey-patches the standard library
# (gevent), which would break every asyncio test after this one.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (pip install 'sim800emu[locust]')", allow_module_level=True)

SCRIPT = textwrap.dedent("""
    import time
    import gevent
    from sim800emu.atclient import AtClient
    from sim800emu.locust import GreenModem, device_spec

    slow = GreenModem(device_spec(["--activation-delay", "1.0"], 0))
    fast = GreenModem(device_spec([], 1))
    ticks = []
    done = {}

    def ticker():
        while "slow" not in done:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    def slow_device():
        m = AtClient(slow.sock, timeout=5)
        m.at('AT+CSTT="internet"')
        t0 = time.monotonic()
        m.at("AT+CIICR")
        done["slow"] = time.monotonic() - t0

    def fast_device():
        m = AtClient(fast.sock, timeout=5)
        for _ in range(50):
            m.at("AT")
        done["fast"] = time.monotonic()

    gevent.joinall([gevent.spawn(ticker), gevent.spawn(slow_device),
                    gevent.spawn(fast_device)], raise_error=True)
    slow.close()
    fast.close()
    assert done["slow"] >= 0.9, done
    assert len(ticks) >= 40, len(ticks)
    print("ok", len(ticks), round(done["slow"], 2))
""")


def test_waiting_device_does_not_block_the_hub() -> None:
    proc = subprocess.run([sys.executable, "-c", "import locust\n" + SCRIPT],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok"), proc.stdout
