"""Locust runs headless against the examples (subprocesses: importing Locust
monkey-patches the standard library, which must not reach the other tests)."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

# Not importorskip: importing Locust monkey-patches the standard library
# (gevent), which would break every asyncio test after this one.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (pip install 'sim800emu[locust]')", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def run_locust(locustfile: Path, tmp_path: Path, *extra: str,
               timeout: float = 60) -> list[dict[str, str]]:
    prefix = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
         "--csv", str(prefix), "--exit-code-on-error", "1", "--stop-timeout", "2", *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["Name"] != "Aggregated"]
    with open(f"{prefix}_failures.csv", newline="") as f:
        failures = list(csv.DictReader(f))
    with open(f"{prefix}_exceptions.csv", newline="") as f:
        exceptions = list(csv.DictReader(f))
    assert failures == [], failures
    assert exceptions == [], exceptions
    return rows


def test_telemetry_on_two_processes(tmp_path: Path) -> None:
    """Issue 14's done-when run: about 200 devices for 20 s on 2 processes,
    against the example's own backend (no --host)."""
    rows = run_locust(ROOT / "examples/locust/telemetry.py", tmp_path,
                      "--processes", "2", "-u", "200", "-r", "50", "-t", "20s", timeout=90)
    counts = {row["Name"]: int(row["Request Count"]) for row in rows}
    assert set(counts) == {"attach", "bearer", "dns", "connect", "send", "receive"}
    assert all(row["Type"] == "sim800" for row in rows)
    assert counts["attach"] == 200 and counts["connect"] >= 200
    # every device up within 4 s, then a reading every 1-2 s: 8 or more each
    assert counts["send"] >= 1000 and counts["receive"] >= 1000
    assert all(int(row["Failure Count"]) == 0 for row in rows)
    send = next(row for row in rows if row["Name"] == "send")
    assert float(send["Average Content Size"]) > 64  # the command, the reading, SEND OK


def test_identity_unique_across_workers_and_classes(tmp_path: Path) -> None:
    rows = run_locust(HERE / "identity_locustfile.py", tmp_path,
                      "--processes", "2", "-u", "8", "-r", "8", "-t", "3s")
    ids = [row["Name"].split()[1:] for row in rows if row["Name"].startswith("id ")]
    assert len(ids) == 8
    for column in range(3):  # IMEI, IMSI, ICCID: all different
        assert len({i[column] for i in ids}) == 8
    slow = next(row for row in rows if row["Name"] == "slow command")
    assert float(slow["Min Response Time"]) >= 15  # --timing realistic: 16-60 ms a command


def test_http_and_mqtt_examples(tmp_path: Path) -> None:
    both = Path(f"{ROOT / 'examples/locust/http.py'},{ROOT / 'examples/locust/mqtt.py'}")
    rows = run_locust(both, tmp_path, "-u", "10", "-r", "10", "-t", "4s")
    counts = {row["Name"]: int(row["Request Count"]) for row in rows}
    assert set(counts) == {"attach", "bearer", "http", "receive", "sms", "connect", "tls",
                           "mqtt connect", "publish"}
    assert counts["attach"] == counts["bearer"] == 10
    assert counts["sms"] >= 1 and counts["http"] >= 2 and counts["publish"] >= 3
    assert counts["connect"] + counts["tls"] == counts["mqtt connect"]
