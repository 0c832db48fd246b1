"""Saving and loading the profile: AT&W / AT+CIPSCONT wait for the store's
answer (ERROR when the save failed), and a saved file is checked entry by
entry against the ranges of the commands (sim800emu.core.saved)."""

from __future__ import annotations

import pytest
from harness import ERROR, OK, Harness, block

from sim800emu.core.events import SettingsSaved
from sim800emu.core.saved import check_saved


@pytest.mark.parametrize("command", ["AT&W", "AT&W0", "AT+CIPSCONT"])
def test_a_failed_save_answers_error(command: str) -> None:
    h = Harness()
    h.save_ok = False
    assert h.at(command) == ERROR
    assert len(h.saves) == 1
    assert h.m.saved == {}  # the restorable profile did not change
    h.save_ok = True
    assert h.at(command) == OK
    assert h.m.saved == h.saves[-1].settings


def test_atz_restores_what_was_really_saved() -> None:
    h = Harness()
    h.at("AT+CMEE=1")
    assert h.at("AT&W") == OK
    h.at("AT+CMEE=2")
    h.save_ok = False
    assert h.at("AT&W") == ERROR
    h.at("ATZ")
    h.at("ATE0")
    assert h.at("AT+CMEE?") == block("+CMEE: 1") + OK


def test_the_final_result_waits_for_the_store() -> None:
    h = Harness()
    h.save_ok = None
    assert h.at("AT&W") == b""
    assert h.at("AT") == b""  # held while the save is pending
    assert h.handle(SettingsSaved(h.saves[-1].settings, ok=True)) == OK + OK
    h.at("AT+CIPSPRT=0")
    assert h.at("AT+CIPSCONT") == b""
    assert h.handle(SettingsSaved(h.saves[-1].settings, ok=False)) == ERROR
    assert "cipsprt" not in h.m.saved


def test_a_late_answer_without_a_pending_save_is_harmless() -> None:
    h = Harness()
    assert h.handle(SettingsSaved({"cmee": 2}, ok=False)) == b""
    assert h.at("AT") == OK


def test_error_is_numeric_under_atv0() -> None:
    h = Harness()
    h.at("ATV0")
    h.save_ok = False
    assert h.at("AT&W") == b"4\r"


GOOD = {
    "echo": False,
    "verbose": True,
    "cmee": 2,
    "creg_n": 2,
    "ipr": 115200,
    "cipmux": 1,
    "apn": "internet",
    "cipats_time": 0,  # the default, though AT+CIPATS takes 1-100
    "cipats_mode": 1,
    "ccfg_sendsz": 1460,
    "ccfg_rxsize": 50,
    "dpdp_interval": 180,
    "clport_tcp": 65535,
    "csgp_rate": 3,
    "ciprxget": 1,
    "cipsprt": 2,
    "future_setting": [1, 2, 3],  # another version's entry: kept as is
}


def test_good_entries_are_kept() -> None:
    assert check_saved(GOOD) == (GOOD, [])


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("cipmux", 7, "cipmux: 7 is not in 0-1"),
        ("cipmux", -1, "cipmux: -1 is not in 0-1"),
        ("cipmux", True, "cipmux: True is not int"),
        ("cipmux", "1", "cipmux: '1' is not int"),
        ("cipmux", 1.0, "cipmux: 1.0 is not int"),
        ("echo", 1, "echo: 1 is not true/false"),
        ("echo", "yes", "echo: 'yes' is not true/false"),
        ("cmee", 3, "cmee: 3 is not in 0-2"),
        ("creg_n", 3, "creg_n: 3 is not in 0-2"),
        ("ipr", 1234, "ipr: 1234 is not a rate AT+IPR takes"),
        ("ipr", 921600, "ipr: 921600 is not in 0-460800"),
        ("apn", "x" * 51, "apn: longer than 50 characters"),
        ("apn", 'a"b', "apn: not printable text without double quotes"),
        ("apn", "a\r\nb", "apn: not printable text without double quotes"),
        ("apn", None, "apn: None is not str"),
        ("cipats_time", 101, "cipats_time: 101 is not in 1-100"),
        ("ccfg_retry", 2, "ccfg_retry: 2 is not in 3-8"),
        ("ccfg_rxsize", 1461, "ccfg_rxsize: 1461 is not in 50-1460"),
        ("ccfg_rxtimer", 19, "ccfg_rxtimer: 19 is not in 20-1000"),
        ("dpdp_timer", 11, "dpdp_timer: 11 is not in 1-10"),
        ("clport_udp", 65536, "clport_udp: 65536 is not in 0-65535"),
        ("csgp_rate", 4, "csgp_rate: 4 is not in 0-3"),
        ("cipsprt", 3, "cipsprt: 3 is not in 0-2"),
        ("ciprxget", 2, "ciprxget: 2 is not in 0-1"),
        ("cipssl", 9, "cipssl: 9 is not in 0-1"),
    ],
)
def test_bad_entries_are_dropped_one_by_one(key: str, value: object, problem: str) -> None:
    kept, problems = check_saved({**GOOD, key: value})
    assert problems == [problem]
    assert kept == {k: v for k, v in GOOD.items() if k != key}


def test_transparent_and_multi_link_exclude_each_other() -> None:
    kept, problems = check_saved({"cipmux": 1, "cipmode": 1})
    assert kept == {"cipmux": 1}
    assert problems == ["cipmode: 1 is not possible with cipmux 1"]


def test_a_checked_profile_starts_the_modem_with_defaults_for_bad_entries() -> None:
    kept, _ = check_saved({"cipmux": 7, "cipqsend": 1, "echo": "no"})
    h = Harness(saved=kept)
    h.at("ATE0")
    assert h.at("AT+CIPMUX?") == block("+CIPMUX: 0") + OK
    assert h.at("AT+CIPQSEND?") == block("+CIPQSEND: 1") + OK


def test_httpscont_answers_error_when_the_save_failed() -> None:
    h = Harness()
    h.bring_up()
    assert h.at("AT+HTTPINIT") == OK
    h.save_ok = False
    assert h.at("AT+HTTPSCONT") == ERROR
    assert "httpscont" not in h.m.saved
    h.save_ok = True
    assert h.at("AT+HTTPSCONT") == OK
    assert isinstance(h.m.saved["httpscont"], dict)


def test_a_save_answer_never_completes_another_pending_command() -> None:
    # the answer follows its own request at once, so a later pending command
    # on the same line (CIICR) is not ended by it
    h = Harness()
    h.at('AT+CSTT="CMNET"')
    out = h.at("AT&W;+CIICR")
    assert out == b""  # CIICR is still activating
    assert h.run_timers() == OK
