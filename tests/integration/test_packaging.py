"""What a new user meets before running anything: the Makefile's first
install, the README, .gitignore and the package metadata."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _fake_python(tmp_path: Path, pip_exit: int) -> Path:
    """A ``python3`` for the Makefile whose venvs get a ``pip`` that exits
    with ``pip_exit`` (no network, no real install)."""
    script = tmp_path / f"python-pip{pip_exit}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "if sys.argv[1:3] == ['-m', 'venv']:\n"
        "    bin_dir = os.path.join(sys.argv[3], 'bin')\n"
        "    os.makedirs(bin_dir)\n"
        "    pip = os.path.join(bin_dir, 'pip')\n"
        "    with open(pip, 'w') as f:\n"
        f"        f.write('#!/bin/sh\\nexit {pip_exit}\\n')\n"
        "    os.chmod(pip, 0o755)\n"
        "    sys.exit(0)\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, *sys.argv[1:]])\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_a_failed_first_install_is_not_reused(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    stamp = venv / ".installed"

    def make(python: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", "-C", str(ROOT), f"VENV={venv}", f"PY={python}", str(stamp)],
            capture_output=True, text=True, timeout=60, check=False,
        )

    failed = make(_fake_python(tmp_path, pip_exit=1))
    assert failed.returncode != 0
    assert venv.is_dir() and not stamp.exists()  # the stamp only after success
    (venv / "half-made").write_text("")
    done = make(_fake_python(tmp_path, pip_exit=0))
    assert done.returncode == 0, done.stdout + done.stderr
    assert stamp.exists()
    assert not (venv / "half-made").exists()  # made again from scratch
    again = make(_fake_python(tmp_path, pip_exit=1))  # up to date: nothing runs
    assert again.returncode == 0 and "pip" not in again.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_refuses_an_old_python(tmp_path: Path) -> None:
    old = tmp_path / "python-old"
    old.write_text("#!/bin/sh\n[ \"$1\" = -V ] && echo 'Python 3.10.12'\nexit 1\n")
    old.chmod(0o755)
    result = subprocess.run(
        ["make", "-C", str(ROOT), f"VENV={tmp_path / 'v'}", f"PY={old}", str(tmp_path / "v" / ".installed")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode != 0
    assert "sim800emu needs Python >= 3.11" in result.stdout + result.stderr
    assert "Python 3.10.12" in result.stdout + result.stderr
    assert not (tmp_path / "v").exists()


def test_readme_says_what_a_new_user_needs() -> None:
    text = (ROOT / "README.md").read_text()
    assert "Python ≥ 3.11" in text or "Python >= 3.11" in text
    assert "make clean" in text
    for name in re.findall(r"`?([A-Za-z0-9_./-]+\.md)`?", text):
        if "/" in name or name in ("README.md",):
            assert (ROOT / name).exists(), f"README cites {name}, which the repository lacks"
        else:
            assert (ROOT / name).exists() or (ROOT / "docs" / name).exists(), (
                f"README cites {name}, which the repository lacks"
            )
    # every Python snippet is complete: what it uses, it imports
    for snippet in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        compile(snippet, "README snippet", "exec")
        if "pytest." in snippet:
            assert "import pytest" in snippet, snippet


def test_gitignore_covers_what_builds_leave() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "build/" in ignored and ".venv/" in ignored


def test_license_is_an_spdx_string_for_a_setuptools_that_reads_it() -> None:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"
    (requirement,) = meta["build-system"]["requires"]
    low = re.search(r"setuptools>=(\d+)", requirement)
    assert low is not None and int(low.group(1)) >= 77, requirement  # PEP 639 support


def test_sim800_url_options_are_documented() -> None:
    doc = ROOT / "docs" / "url.md"
    assert doc.exists()
    text = doc.read_text()
    for needed in ("sim800://", "profile=", "state-dir", "dns-offline", "host="):
        assert needed in text, needed
    assert "docs/url.md" in (ROOT / "README.md").read_text()


def test_no_build_dir_is_tracked() -> None:
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "build", "dist"],
        capture_output=True, text=True, check=False,
    ).stdout
    assert tracked == ""
    assert os.path.exists(ROOT / "pyproject.toml")
