"""A fleet that only reports who it is (tests/locust/test_locust_run.py):
each device reads its IMEI, IMSI and ICCID back from its modem and reports
them as a request named after them."""

from __future__ import annotations

from collections.abc import Sequence

from locust import constant, task

from sim800emu.locust import Sim800User


class Plain(Sim800User):
    wait_time = constant(0.5)

    @task
    def whoami(self) -> None:
        m = self.modem
        m.at("ATE0")
        imei = m.at("AT+CGSN")[-2]
        imsi = m.at("AT+CIMI")[-2]
        iccid = m.at("AT+CCID")[-2]
        assert imei == self.identity.imei, (imei, self.identity.imei)
        with m.phase(f"id {imei} {imsi} {iccid}"):
            pass


class Slow(Plain):
    """Realistic delays for this class only: a command takes 16-60 ms
    (chosen per device, through device_options)."""

    def device_options(self) -> Sequence[str]:
        return ["--timing", "realistic"]

    @task
    def whoami(self) -> None:
        super().whoami()
        self.modem.at("AT", phase="slow command")
