"""Generate the command reference (docs/commands.md) from the registry.

``python -m sim800emu.docs docs/commands.md`` writes it;
``python -m sim800emu.docs --check docs/commands.md`` fails when it is stale
(CI runs this, so the reference can never drift from the code).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.modem import Modem  # noqa: F401  (imports and registers every command)
from .core.parser import Form
from .core.registry import REGISTRY, Choice, FormSpec, Int, Str

FORM_SYNTAX = {Form.TEST: "=?", Form.READ: "?", Form.WRITE: "=…", Form.EXEC: ""}


def _params(spec: FormSpec) -> str:
    sig = spec.sig
    if sig is None:
        return "several syntaxes (see summary)"
    if callable(sig):
        return "depends on CIPMUX"
    parts = []
    for p in sig:
        if isinstance(p, Int):
            d = f"{p.lo}-{p.hi}"
        elif isinstance(p, Choice):
            d = "/".join(p.choices)
        elif isinstance(p, Str):
            d = "string"
        parts.append(f"[{d}]" if p.optional else d)
    return ", ".join(parts) if parts else ""


def render() -> str:
    lines = [
        "# sim800emu command reference",
        "",
        "Generated from the command registry by `python -m sim800emu.docs docs/commands.md`;",
        "CI checks that it is current. Every form not listed answers `ERROR`.",
        "",
        "| command | forms | arguments (write form) | allowed | source | what it does |",
        "|---|---|---|---|---|---|",
    ]
    seen: set[int] = set()
    for name in sorted(REGISTRY, key=lambda n: (not n.startswith("+"), n)):
        spec = REGISTRY[name]
        aliases = [n for n, s in REGISTRY.items() if s is spec and n != spec.name]
        if id(spec) in seen:
            continue
        seen.add(id(spec))
        title = f"`AT{spec.name}`" + "".join(f" / `AT{a}`" for a in sorted(aliases))
        forms = " ".join(f"`{FORM_SYNTAX[f] or 'exec'}`" for f in Form if f in spec.forms)
        write = spec.forms.get(Form.WRITE)
        args = _params(write) if write else ""
        allowed = "; ".join(
            f"{FORM_SYNTAX[f] or 'exec'}: {fs.when.text}"
            for f, fs in spec.forms.items()
            if fs.when.text != "any state"
        ) or "any state"
        if spec.needs_sim:
            allowed += " (SIM ready)"
        cells = [title, forms, args, allowed, spec.source, spec.summary]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim800emu.docs", description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--check", action="store_true", help="fail if the file is not current")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.path.read_text() if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    args.path.parent.mkdir(parents=True, exist_ok=True)
    args.path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
