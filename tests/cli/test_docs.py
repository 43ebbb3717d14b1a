"""Docs stay honest: every command has --help text and appears in the README; --help imports no ML stack."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "coderig-generate": "coderig_generate.cli",
    "coderig-score": "coderig_score.cli",
    "coderig-analyze": "coderig_analyze.cli",
    "coderig-export": "coderig_export.cli",
    "coderig-schemas": "coderig_schemas.cli",
}


def _commands() -> list[tuple[str, str, list[str]]]:
    found = []
    for tool, module in TOOLS.items():
        main = importlib.import_module(module).main
        if isinstance(main, click.Group):
            for name in main.commands:
                found.append((tool, module, [name]))
        found.append((tool, module, []))
    return found


@pytest.mark.parametrize(("tool", "module", "args"), _commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else str(v))
def test_every_command_has_help_and_is_in_readme(tool: str, module: str, args: list[str]) -> None:
    main = importlib.import_module(module).main
    r = CliRunner().invoke(main, [*args, "--help"])
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) >= 3 and "Usage:" in lines[0]
    readme = (ROOT / "README.md").read_text()
    assert " ".join([tool, *args]) in readme, f"README.md does not mention `{' '.join([tool, *args])}`"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_help_does_not_import_vllm_or_torch(tool: str) -> None:
    module = TOOLS[tool]
    code = (
        "import sys; from click.testing import CliRunner; import importlib;"
        f"m = importlib.import_module({module!r}); r = CliRunner().invoke(m.main, ['--help']);"
        "assert r.exit_code == 0, r.output;"
        "heavy = sorted(k for k in sys.modules if k.split('.')[0] in ('vllm', 'torch', 'transformers'));"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
