"""Snapshots of a run store, to prove that untrusted programs changed nothing in it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from coderig_schemas import RunStore

# The scorer's own bookkeeping (build locks, a staging copy kept after a refusal or a crash).
SCORER_OWN = (".staging",)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file and directory under root (relative path -> (mode, sha256 of the content or '')),
    without the scorer's own staging area."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts[:1] and rel_dir.parts[0] in SCORER_OWN:
            continue
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if rel in SCORER_OWN:
                continue
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
            out[rel] = (st.st_mode, digest)
    return out


def changes(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]], published: str | None = None) -> list[str]:
    """What changed between two snapshots: altered or removed entries, and added ones outside ``published``
    (the relative path of the output the scorer itself published, if any)."""
    diff = [f"changed {k}" for k in before if k in after and after[k] != before[k]]
    diff += [f"removed {k}" for k in before if k not in after]
    for k in after:
        if k not in before and not (published and (_within(k, published) or _its_publication_number(k, published))):
            diff.append(f"added {k}")
    return diff


def _within(k: str, published: str) -> bool:
    return k == published or k.startswith(published + "/") or published.startswith(k + "/")


def _its_publication_number(k: str, published: str) -> bool:
    """The store's record of the publication (its publication number under ``RunStore.versions_dir``, and that
    directory's lock): written by the store as it publishes, so anything else added there is a change."""
    stage, name, key = published.split("/")
    anywhere = RunStore(Path())
    versions = str(anywhere.versions_dir(stage, name).relative_to(anywhere.root))
    if versions == k or versions.startswith(k + "/"):
        return True  # the directories leading to it
    leaf = k.removeprefix(versions + "/")
    return leaf != k and "/" not in leaf and (leaf == ".lock" or leaf.endswith("-" + key))
