"""Helpers for the tests of ``serve``'s options and profile keys: a bad
value must end the program with one line of error, a profile must give
``serve`` its defaults (docs/profile.example.toml among them)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from sim800emu.cli import _subparser, build_parser, load_profile

EXAMPLE_PROFILE = Path(__file__).parents[2] / "docs" / "profile.example.toml"


def assert_one_line_error(args: list[str], message: str) -> None:
    """``serve ARGS`` exits with status 2 and a last line of error naming ``message``."""
    result = subprocess.run(
        [sys.executable, "-m", "sim800emu", "serve", *args],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("sim800emu serve: error: ") and message in last, result.stderr


def serve_args(profile: Path, *argv: str) -> argparse.Namespace:
    """``serve ARGV`` parsed with ``profile``'s keys as the defaults."""
    parser = build_parser()
    serve = _subparser(parser, "serve")
    serve.set_defaults(**load_profile(serve, profile))
    return parser.parse_args(["serve", *argv])


def example_profile_defaults() -> dict[str, object]:
    """The ``serve`` defaults docs/profile.example.toml gives."""
    return load_profile(_subparser(build_parser(), "serve"), EXAMPLE_PROFILE)
