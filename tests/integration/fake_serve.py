"""``sim800emu`` with the fake modem and fake network of ``runtime_fakes``:
runs the real CLI, transports and runtime without needing the core.

    python tests/integration/fake_serve.py serve --link PATH ...
"""

from __future__ import annotations

import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runtime_fakes import FakeModem, fake_net_factory

fake = types.ModuleType("sim800emu.core.modem")
fake.Modem = FakeModem  # type: ignore[attr-defined]
sys.modules["sim800emu.core.modem"] = fake

import sim800emu.cli as cli  # noqa: E402

cli.net_factory_for = lambda config: fake_net_factory  # type: ignore[assignment,return-value]

if __name__ == "__main__":
    sys.exit(cli.main())
