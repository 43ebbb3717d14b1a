"""coderig-schemas: inspect and verify the run store and validate files against the contract."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .cli_support import quiet_option, runs_option
from .errors import InvalidInputError, UsageError
from .io import iter_jsonl, read_json
from .lifecycle import stage_command
from .registry import SCHEMAS
from .store import STAGES, RunStore, verify_chain


@click.group()
def main() -> None:
    """Inspect coderig's run store and validate files against the contract."""


@main.command("ls")
@stage_command
@runs_option
@click.option("--stage", type=click.Choice(STAGES), default=None, help="Only this stage's outputs.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per output on stdout.")
def ls_cmd(store: RunStore, stage: str | None, as_json: bool) -> list[str]:
    """List published outputs (ref and creation time): by stage in chain order, then by name, each name's
    versions in publication order (the last one is what '<stage>/<name>' resolves to). An output whose
    manifest cannot be read is skipped with a warning on stderr."""
    if not store.root.is_dir():
        # an empty listing here would read as "nothing published" when the path is simply wrong
        raise UsageError(f"--runs {store.root}: no such directory", hint="give the run store's root (--runs or CODERIG_RUNS)")
    outputs = [out for st in ([stage] if stage else list(STAGES)) for out in store.list_outputs(st)]  # type: ignore[arg-type]
    if as_json:
        return [json.dumps({"ref": out.ref, "path": str(out.path), "created_at": out.manifest.created_at.isoformat(),
                            "version": out.version}) for out in outputs]
    return [f"{out.ref}\t{out.manifest.created_at.isoformat()}" for out in outputs]


@main.command()
@stage_command
@runs_option
@quiet_option
@click.argument("ref")
def verify(store: RunStore, quiet: bool, ref: str) -> str:
    """Check an output's files and its inputs' hashes (exit 3 on any mismatch); print its path."""
    out = store.resolve(ref)
    out.verify()
    verify_chain(out, store)
    return str(out.path)


@main.command()
@stage_command
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--schema", "schema_name", type=click.Choice(sorted(SCHEMAS)), required=True, help="Schema every record follows.")
def validate(path: Path, schema_name: str) -> str:
    """Validate a JSONL (or .json) file against a contract schema; print the record count."""
    model = SCHEMAS[schema_name]
    if path.suffix == ".json":
        read_json(path, model)
        return "1"
    n = sum(1 for _ in iter_jsonl(path, model))
    if n == 0:
        raise InvalidInputError(f"{path}: no records", hint="the file is empty")
    return str(n)
