"""The rate-limited report of resource exhaustion (sim800emu.resources)."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest

from sim800emu.resources import ResourceErrorLog, describe, is_resource_error


def test_one_line_per_condition_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    log = ResourceErrorLog(interval=10.0, clock=lambda: now[0])
    emfile = OSError(errno.EMFILE, "Too many open files")
    with caplog.at_level(logging.ERROR, logger="sim800emu"):
        for _ in range(100):
            log.report("socket.accept() out of system resource", emfile, "127.0.0.1:5555")
        log.report("socket.accept() out of system resource", emfile, "127.0.0.1:6666")
        now[0] = 10.5
        log.report("socket.accept() out of system resource", emfile, "127.0.0.1:5555")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("socket.accept() out of system resource on 127.0.0.1:5555: ")
    assert "6666" in lines[1]
    assert lines[2].endswith("; 99 more since the last report")
    assert all("\n" not in line for line in lines)
    assert not any(r.exc_info for r in caplog.records)


def test_the_loop_handler_passes_other_errors_on(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.set_exception_handler(ResourceErrorLog())
        with caplog.at_level(logging.ERROR):
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource",
                 "exception": OSError(errno.ENFILE, "Too many open files in system")}
            )
            loop.call_exception_handler({"message": "boom", "exception": ValueError("x")})
    finally:
        loop.close()
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "socket.accept() out of system resource: Too many open files in system"
    assert messages[1] == "boom"
    assert caplog.records[1].exc_info is not None  # asyncio's own report, unchanged


def test_describe_and_is_resource_error() -> None:
    assert is_resource_error(OSError(errno.EMFILE, "x"))
    assert is_resource_error(OSError(errno.ENOBUFS, "x"))
    assert not is_resource_error(OSError(errno.ECONNREFUSED, "x"))
    assert not is_resource_error(ValueError())
    assert not is_resource_error(None)
    assert describe(OSError(errno.ENOMEM, "Cannot allocate memory")) == "Cannot allocate memory"
    assert "ulimit -n" in describe(OSError(errno.EMFILE, "Too many open files"))
