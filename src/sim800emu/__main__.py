"""``python -m sim800emu``: the command line (see :mod:`sim800emu.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
