"""Generate the JSON Schema files from the pydantic models, and check them for drift.

``python -m coderig_schemas.jsonschema_gen DIR`` writes them; ``--check`` fails on any difference;
``--publish`` records the current files as published, after which they may never change (a change of
shape must bump the model's ``schema_version``, which writes a new file beside the old one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .io import atomic_write_text, sha256_bytes
from .registry import SCHEMAS, schema_filename, schema_version

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_BASE = "https://coderig.dev/schemas/"
LOCK = "published.lock.json"


def build_schema(name: str) -> dict[str, Any]:
    """The Draft 2020-12 JSON Schema of a registered model."""
    model = SCHEMAS[name]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": DRAFT, "$id": ID_BASE + schema_filename(name), **schema}


def render(name: str) -> str:
    """The schema file's exact text."""
    return json.dumps(build_schema(name), indent=2, sort_keys=True) + "\n"


def _lock(directory: Path) -> dict[str, str]:
    p = directory / LOCK
    return json.loads(p.read_text()) if p.is_file() else {}


def check(directory: Path) -> list[str]:
    """Problems found: missing or stale files, and edits to published versions."""
    problems = []
    for name in SCHEMAS:
        path = directory / schema_filename(name)
        want = render(name)
        if not path.is_file():
            problems.append(f"{path}: missing; run 'make schemas'")
        elif path.read_text() != want:
            problems.append(f"{path}: differs from the model {SCHEMAS[name].__name__}; run 'make schemas' and commit")
    for fname, digest in _lock(directory).items():
        path = directory / fname
        if not path.is_file() or sha256_bytes(path.read_bytes()) != digest:
            problems.append(f"{path}: published schema was edited or removed; bump schema_version instead")
    return problems


def generate(directory: Path) -> list[Path]:
    """Write every schema file; refuse to rewrite a published one."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = _lock(directory)
    written = []
    for name in SCHEMAS:
        fname = schema_filename(name)
        text = render(name)
        if fname in lock and sha256_bytes(text.encode()) != lock[fname]:
            raise click.ClickException(
                f"{directory / fname}: version {schema_version(SCHEMAS[name])} is published and the model changed; "
                f"bump {SCHEMAS[name].__name__}.schema_version"
            )
        path = directory / fname
        if not path.is_file() or path.read_text() != text:
            atomic_write_text(path, text)
            written.append(path)
    return written


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Fail (exit 3) if a file differs from its model.")
@click.option("--publish", is_flag=True, help="Record the current files as published (never to be edited).")
def main(directory: Path, check_only: bool, publish: bool) -> None:
    """Generate coderig's JSON Schema files into DIRECTORY."""
    if check_only:
        problems = check(directory)
        for p in problems:
            click.echo(p, err=True)
        sys.exit(3 if problems else 0)
    for written in generate(directory):
        click.echo(str(written))
    if publish:
        lock = _lock(directory)
        for name in SCHEMAS:
            fname = schema_filename(name)
            lock[fname] = sha256_bytes((directory / fname).read_bytes())
        atomic_write_text(directory / LOCK, json.dumps(lock, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
