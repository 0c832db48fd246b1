"""The dial-up data options (docs/ppp.md): --ppp-auth, --ppp-host-alias,
--ppp-dns, --ppp-restart, --connect-text, --escape-guard, as options and as
profile keys, and their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, example_profile_defaults, serve_args

from sim800emu.cli import build_modem_config, build_parser
from sim800emu.core.config import PppConfig, Timing


def config(*args: str) -> tuple[PppConfig, Timing]:
    parsed = build_parser().parse_args(["serve", *args])
    cfg = build_modem_config(parsed)
    return cfg.ppp, cfg.timing


def test_defaults() -> None:
    ppp, timing = config()
    assert ppp == PppConfig()
    assert timing.escape_guard == 1.0


def test_options() -> None:
    ppp, timing = config(
        "--ppp-auth", "me:pa:ss", "--ppp-host-alias", "10.9.9.9", "--ppp-dns", "10.9.9.53",
        "--ppp-restart", "0.5", "--connect-text", "115200", "--escape-guard", "0.2",
        "--time-scale", "0.01",
    )
    assert ppp == PppConfig(auth=("me", "pa:ss"), host_alias="10.9.9.9", dns_fallback="10.9.9.53",
                            connect_text="115200", restart=0.5)
    assert timing.escape_guard == 0.2  # never scaled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ppp-auth", "nocolon"], "expected USER:PASS"),
        (["--ppp-auth", ":pass"], "expected USER:PASS"),
        (["--ppp-host-alias", "host"], "not an IPv4 address"),
        (["--escape-guard", "0"], "the guard time must be 0.02-10 s"),
        (["--ppp-restart", "-1"], "expected a positive number of seconds"),
        (["--connect-text", 'say "hi"'], "must be printable ASCII"),
    ],
)
def test_bad_values_are_one_line_errors(args: list[str], message: str) -> None:
    assert_one_line_error(args, message)


def test_profile_keys(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('ppp-auth = "u:p"\nppp-restart = 1.5\nescape-guard = 0.5\n')
    cfg = build_modem_config(serve_args(profile))
    assert cfg.ppp.auth == ("u", "p") and cfg.ppp.restart == 1.5
    assert cfg.timing.escape_guard == 0.5


def test_example_profile_has_the_ppp_keys() -> None:
    defaults = example_profile_defaults()
    assert defaults["ppp_host_alias"] == "10.0.2.2" and defaults["escape_guard"] == 1.0
