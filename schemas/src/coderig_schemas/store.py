"""The run store: immutable, versioned stage outputs on a shared file system.

Layout (see docs/run-store.md)::

    <root>/<stage>/<name>/<key>/manifest.json   a published output (immutable)
    <root>/.staging/<stage>/<name>/<key>/       an output being built (resumable)
    <root>/.staging/<stage>/<name>/<key>.lock   held by the process building it
    <root>/.versions/<stage>/<name>/<seq>-<key> the publication order of a name's versions

``key`` is derived from the stage, the config hash and the input manifests' hashes, so the same
work always lands in the same place: re-running it is a no-op, and another config gets a new key
beside the old one.
"""

from __future__ import annotations

import errno
import fcntl
import fnmatch
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from .environment import capture_environment, git_sha
from .errors import CoderigError, ConflictError, ExitCode, InvalidInputError
from .identity import RunIdentity
from .io import (
    atomic_write_bytes,
    atomic_write_json,
    canonical_json,
    count_lines,
    dump_jsonl,
    hash_json,
    iter_jsonl,
    read_json,
    sha256_bytes,
    sha256_file,
)
from .manifest import FileEntry, InputRef, Manifest, Stage

M = TypeVar("M", bound=BaseModel)

log = logging.getLogger("coderig.store")

STAGES: tuple[Stage, ...] = ("generate", "score", "analyze", "export")
MANIFEST = "manifest.json"
UNITS_DIR = "units"
LOGS_DIR = "logs"
#: Scratch space of a build inside its staging directory (libraries' temp files); never published.
SCRATCH_DIR = ".scratch"
#: '<root>/.versions/<stage>/<name>/': one empty file '<seq>-<key>' per published version, in publication order.
VERSIONS_DIR = ".versions"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$")
_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
_VERSION_RE = re.compile(r"^(\d{10})-([0-9a-f]{16})$")


def check_name(name: str) -> str:
    """Validate an output name (letters, digits, '._+=-'; no slashes)."""
    if not _NAME_RE.match(name):
        raise InvalidInputError(
            f"invalid output name {name!r}", hint="use letters, digits and '._+=-' only (no '/' or spaces)"
        )
    return name


def output_key(stage: str, config_hash: str, input_manifest_hashes: Iterable[str]) -> str:
    """The 16-hex identity of an output: same stage, config and inputs give the same key."""
    return hash_json({"stage": stage, "config": config_hash, "inputs": sorted(input_manifest_hashes)})[:16]


@dataclass
class PublishedOutput:
    """A published, immutable stage output, opened for reading.

    Files are read through :meth:`path_of`, :meth:`records` or :meth:`read`, which check each
    file's sha256 against the manifest and remember what was read, so that a downstream manifest
    can list exactly the files it consumed (:meth:`as_input`).
    """

    path: Path
    manifest: Manifest
    manifest_sha256: str
    #: Publication number among the versions of its name (1, 2, ...); None if published before numbering.
    version: int | None = None
    _read: dict[str, FileEntry] = field(default_factory=dict, repr=False)

    @property
    def ref(self) -> str:
        """'<stage>/<name>/<key>'."""
        return f"{self.manifest.stage}/{self.manifest.name}/{self.manifest.key}"

    @property
    def stage(self) -> Stage:
        """Stage that produced the output."""
        return self.manifest.stage

    def entry(self, rel: str) -> FileEntry:
        """Manifest entry of an output file."""
        for e in self.manifest.outputs:
            if e.path == rel:
                return e
        raise InvalidInputError(
            f"{self.path / MANIFEST}:1: outputs: no file {rel!r} in {self.ref}",
            hint="the output was made by another version of the stage; re-run it",
        )

    def has(self, rel: str) -> bool:
        """Whether the output lists a file rel."""
        return any(e.path == rel for e in self.manifest.outputs)

    def path_of(self, rel: str) -> Path:
        """Path of an output file after checking its sha256 against the manifest."""
        e = self.entry(rel)
        p = self.path / rel
        if not p.is_file():
            raise InvalidInputError(f"{p}: listed in {self.ref}'s manifest but missing", hint="the store was altered; re-run the stage")
        digest = sha256_file(p)
        if digest != e.sha256:
            raise InvalidInputError(
                f"{p}: sha256 {digest[:12]}... does not match the manifest's {e.sha256[:12]}...",
                hint=self._altered_hint(),
            )
        self._read[rel] = e
        return p

    def _altered_hint(self) -> str:
        # Re-running the stage alone is a no-op (the altered output still stands under the same key).
        return f"the file changed after {self.ref} was published; restore it, or remove {self.path} and re-run that stage"

    def accept_digest(self, rel: str, digest: str) -> None:
        """Check a sha256 the caller computed while reading rel itself, and record rel as read.

        For readers of big files that hash during their single pass instead of calling path_of
        first (which reads the file once more); raises like path_of on a mismatch.
        """
        e = self.entry(rel)
        if digest != e.sha256:
            raise InvalidInputError(
                f"{self.path / rel}: sha256 {digest[:12]}... does not match the manifest's {e.sha256[:12]}...",
                hint=self._altered_hint(),
            )
        self._read[rel] = e

    def records(self, rel: str, model: type[M]) -> Iterator[M]:
        """Validated records of a JSONL output file (hash checked first)."""
        return iter_jsonl(self.path_of(rel), model)

    def read(self, rel: str, model: type[M]) -> M:
        """A validated JSON document of the output (hash checked first)."""
        return read_json(self.path_of(rel), model)

    def verify(self) -> None:
        """Check every file of the output against the manifest."""
        for e in self.manifest.outputs:
            self.path_of(e.path)

    def as_input(self) -> InputRef:
        """This output as an upstream reference listing the files read so far."""
        return InputRef(ref=self.ref, manifest_sha256=self.manifest_sha256, files=sorted(self._read.values(), key=lambda e: e.path))


def open_output(path: Path) -> PublishedOutput:
    """Open a published output directory (validates its manifest)."""
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise InvalidInputError(f"{path}: no {MANIFEST}; not a published output", hint="name a published output or run its stage first")
    raw = mpath.read_bytes()
    manifest = read_json(mpath, Manifest)
    return PublishedOutput(path=path, manifest=manifest, manifest_sha256=sha256_bytes(raw))


def read_versions(versions_dir: Path) -> dict[str, int]:
    """The publication number of each version (key) of a name, from ``<root>/.versions/<stage>/<name>/<seq>-<key>``.

    Keys published before versions were numbered are absent. Should two machines publish the same
    key at once, both leave a number: the smaller one counts.
    """
    found: dict[str, int] = {}
    try:
        entries = os.listdir(versions_dir)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        if m := _VERSION_RE.match(entry):
            seq, key = int(m.group(1)), m.group(2)
            found[key] = min(seq, found.get(key, seq))
    return found


def _publication_order(out: PublishedOutput) -> tuple[int, float, int, str]:
    # Numbered versions are ordered by their number alone: machines' clocks may disagree, the number cannot.
    # Versions from before numbering come first, by their (clock) time, as they always were.
    if out.version is None:
        return (0, out.manifest.created_at.timestamp(), 0, out.manifest.key)
    return (1, 0.0, out.version, out.manifest.key)


def _check_place(out: PublishedOutput, stage: str, name: str, key: str) -> None:
    """An output's manifest must name the place it lies at (a copy moved by hand would resolve wrongly)."""
    m = out.manifest
    if (m.stage, m.name, m.key) != (stage, name, key):
        raise InvalidInputError(
            f"{out.path / MANIFEST}: its manifest says {m.stage}/{m.name}/{m.key}, but it lies at {stage}/{name}/{key}",
            hint="it was moved or copied by hand; move it back to its place or remove it",
        )


@dataclass
class GlobSelection:
    """What a name glob selected (:meth:`RunStore.select`), and why."""

    pattern: str
    outputs: list[PublishedOutput]
    #: One line per name whose versions were not all taken: how many it has, which were taken, how to take others.
    notes: list[str]


class RunStore:
    """A run store rooted at a directory (any mounted path; default ./runs)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    # -- reading ---------------------------------------------------------------------------
    def list_outputs(self, stage: Stage, name_glob: str = "*") -> list[PublishedOutput]:
        """Published outputs of a stage whose name matches a glob: by name, each name's versions oldest first.

        A version whose manifest cannot be read (corrupt, or not at its place) is skipped with a warning on
        the log, so one bad output does not hide the others; resolving it by key reports the error.
        """
        found: list[PublishedOutput] = []
        base = self.root / stage
        if not base.is_dir():
            return found
        for name_dir in sorted(base.iterdir()):
            if name_dir.is_dir() and fnmatch.fnmatchcase(name_dir.name, name_glob):
                found.extend(self._versions(stage, name_dir))
        return found

    def versions_dir(self, stage: str, name: str) -> Path:
        """Where the publication numbers of a name's versions are kept (beside, not inside, the outputs)."""
        return self.root / VERSIONS_DIR / stage / name

    def version_numbers(self, stage: Stage, name: str) -> dict[str, int]:
        """Key -> publication number of the numbered versions of a name (see :func:`read_versions`)."""
        return read_versions(self.versions_dir(stage, name))

    def published(self, stage: Stage, name: str, key: str) -> PublishedOutput | None:
        """The output '<stage>/<name>/<key>' if it is published in this store, else None."""
        path = self.root / stage / name / key
        return open_output(path) if _NAME_RE.match(name) and (path / MANIFEST).is_file() else None

    def versions(self, stage: Stage, name: str) -> list[PublishedOutput]:
        """Every published version of one name, oldest first (by publication number, see :func:`read_versions`)."""
        name_dir = self.root / stage / name
        return self._versions(stage, name_dir) if _NAME_RE.match(name) and name_dir.is_dir() else []

    def _versions(self, stage: Stage, name_dir: Path) -> list[PublishedOutput]:
        numbers = read_versions(self.versions_dir(stage, name_dir.name))
        outs: list[PublishedOutput] = []
        for key_dir in sorted(name_dir.iterdir()):
            if not (_KEY_RE.match(key_dir.name) and (key_dir / MANIFEST).is_file()):
                continue
            try:
                out = open_output(key_dir)
                _check_place(out, stage, name_dir.name, key_dir.name)
            except InvalidInputError as e:
                log.warning("skipped %s: %s (name it by key to see only this error; remove it to silence this)",
                            key_dir, e.message)
                continue
            out.version = numbers.get(key_dir.name)
            outs.append(out)
        outs.sort(key=_publication_order)
        return outs

    def select(self, stage: Stage, pattern: str, keep: Callable[[PublishedOutput], bool] | None = None) -> GlobSelection:
        """Outputs of a stage selected by a glob over names, with a note for each name whose versions it did not all take.

        ``[<stage>/]<name-glob>`` (or ``.../latest``) takes the last published version of each matching name
        (versions of one name are one run redone, with other options or inputs: taking them all would count
        it twice); ``.../<key-glob>`` takes the matching versions, ``.../*`` every version. ``keep`` filters
        the versions first (e.g. only score outputs holding results). Names and versions are in
        :meth:`list_outputs` order.
        """
        name_glob, _, key_glob = pattern.removeprefix(f"{stage}/").partition("/")
        key_glob = key_glob or "latest"
        by_name: dict[str, list[PublishedOutput]] = {}
        for out in self.list_outputs(stage, name_glob):
            if keep is None or keep(out):
                by_name.setdefault(out.manifest.name, []).append(out)
        outputs: list[PublishedOutput] = []
        notes: list[str] = []
        for name, versions in by_name.items():
            if key_glob == "latest":
                taken = versions[-1:]
                why = "the last published"
            else:
                taken = [o for o in versions if fnmatch.fnmatchcase(o.manifest.key, key_glob)]
                why = f"the key(s) matching {key_glob!r}"
            outputs.extend(taken)
            if len(versions) > len(taken):
                left = ", ".join(o.manifest.key for o in versions if all(o is not t for t in taken))
                took = ", ".join(o.manifest.key for o in taken) or "none"
                notes.append(f"{stage}/{name}: {len(versions)} versions, took {len(taken)} ({took}: {why}); "
                             f"left out {left}: name one by key ('{stage}/{name}/<key>') or take every version "
                             f"with '{stage}/{name_glob}/*'")
        return GlobSelection(pattern=pattern, outputs=outputs, notes=notes)

    def resolve(self, ref: str, stage: Stage | None = None) -> PublishedOutput:
        """Open an output by reference.

        Accepted forms: '<stage>/<name>/<key>', '<stage>/<name>' or '<stage>/<name>/latest'
        (the last published version, by publication number), '<name>' when stage is given, or the
        path of an output directory of this store (a directory of another store is refused).
        """
        as_path = Path(ref)
        if (as_path / MANIFEST).is_file():
            out = open_output(as_path)
            self._check_in_store(out, ref)
            self._check_stage(out, stage, ref)
            return out
        parts = [p for p in ref.strip("/").split("/") if p]
        if stage is not None and parts and parts[0] not in STAGES:
            parts = [stage, *parts]
        if len(parts) == 2:
            parts.append("latest")
        if len(parts) != 3 or parts[0] not in STAGES:
            raise InvalidInputError(
                f"cannot resolve {ref!r} in {self.root}",
                hint="use '<stage>/<name>[/<key>|/latest]' or the path of an output directory",
            )
        st, name, key = parts
        if key == "latest":
            versions = self.versions(st, name)  # type: ignore[arg-type]
            if not versions:
                raise InvalidInputError(f"no published output {st}/{name} in {self.root}", hint=f"run the {st} stage first or check --runs")
            self._check_stage(versions[-1], stage, ref)
            return versions[-1]
        path = self.root / st / name / key
        if not (_NAME_RE.match(name) and _KEY_RE.match(key) and (path / MANIFEST).is_file()):
            raise InvalidInputError(f"no published output {ref} in {self.root}",
                                    hint="list outputs with 'coderig-schemas ls' or use '/latest'")
        out = open_output(path)
        _check_place(out, st, name, key)
        out.version = read_versions(self.versions_dir(st, name)).get(key)
        self._check_stage(out, stage, ref)
        return out

    def _check_in_store(self, out: PublishedOutput, ref: str) -> None:
        """An output named by its path must be this store's: a downstream manifest lists it by reference, which
        only this store can resolve later (an output of another store would break ``verify``)."""
        m = out.manifest
        here = out.path.resolve()
        if here == (self.root / m.stage / m.name / m.key).resolve():
            out.version = read_versions(self.versions_dir(m.stage, m.name)).get(m.key)
            return
        if here.parts[-3:] == (m.stage, m.name, m.key):
            raise InvalidInputError(
                f"{ref} is an output of another run store ({here.parents[2]}), not of {self.root}",
                hint=f"use that store with --runs {here.parents[2]} (or CODERIG_RUNS), or name an output of this one "
                     "('coderig-schemas ls' lists them)",
            )
        raise InvalidInputError(
            f"{ref} is not a published output of the run store {self.root} (its manifest says {m.stage}/{m.name}/{m.key})",
            hint="name it as '<stage>/<name>/<key>' of this store, or choose its store with --runs",
        )

    @staticmethod
    def _check_stage(out: PublishedOutput, stage: Stage | None, ref: str) -> None:
        if stage is not None and out.stage != stage:
            raise InvalidInputError(f"{ref} is a {out.stage} output, not a {stage} output", hint=f"pass a {stage} output")

    # -- writing ---------------------------------------------------------------------------
    def begin(
        self,
        *,
        stage: Stage,
        name: str,
        config: BaseModel | dict[str, Any],
        inputs: list[PublishedOutput],
        tool: str,
        tool_version: str,
        packages: list[str] | None = None,
        key_from_inputs: bool = True,
        wait: bool = False,
    ) -> Builder:
        """Start (or resume) building an output; see :class:`Builder`.

        ``key_from_inputs=False`` lists the inputs in the manifest for provenance but keys the output on
        its config alone: for outputs that depend on content the config already hashes (e.g. reference
        timings keyed by the problems' sha256), so any upstream output with that content reuses them.
        When another process holds the build lock, entering the builder raises ConflictError, or with
        ``wait=True`` waits for that process and then finds its output published (for small outputs that
        several runs need at once, such as reference timings).
        """
        check_name(name)
        cfg = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
        config_hash = hash_json(cfg)
        key = output_key(stage, config_hash, [i.manifest_sha256 for i in inputs] if key_from_inputs else [])
        return Builder(
            store=self, stage=stage, name=name, key=key, config=cfg, config_hash=config_hash,
            inputs=inputs, tool=tool, tool_version=tool_version, packages=packages or [], wait=wait,
        )


class Builder:
    """An output under construction in the staging area.

    Use as a context manager. ``existing`` is set when the same output is already published
    (then nothing should be built; the store is not written to, so this works on a read-only store).
    Completed units of work are saved with :meth:`write_unit` and survive a crash, so a re-run
    resumes where it stopped; :meth:`publish` writes the manifest last and renames the staging
    directory into place.
    """

    def __init__(
        self, *, store: RunStore, stage: Stage, name: str, key: str, config: dict[str, Any], config_hash: str,
        inputs: list[PublishedOutput], tool: str, tool_version: str, packages: list[str], wait: bool = False,
    ) -> None:
        self.store, self.stage, self.name, self.key = store, stage, name, key
        self.config, self.config_hash, self.inputs = config, config_hash, inputs
        self.tool, self.tool_version, self.packages = tool, tool_version, packages
        self.wait = wait
        self.final = store.root / stage / name / key
        self.path = store.root / ".staging" / stage / name / key
        self._lock_path = self.path.with_name(key + ".lock")
        self._lock_fd: int | None = None
        self.started_at = datetime.now(UTC)
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()
        self.existing: PublishedOutput | None = None
        self.published: PublishedOutput | None = None

    @property
    def ref(self) -> str:
        """Reference the output will have once published."""
        return f"{self.stage}/{self.name}/{self.key}"

    def __enter__(self) -> Builder:
        if (self.final / MANIFEST).is_file():
            # Published already: a no-op that needs no lock, so it never fails because another process
            # holds one (e.g. a builder that lost the race to publish) and writes nothing (read-only stores).
            self.existing = open_output(self.final)
            self._drop_redundant_staging()
            return self
        try:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            # e.g. a run store under /proc, or a parent that is a file: one line, like other file system refusals
            raise CoderigError(f"{self.store.root}: cannot create the run store's directories ({e.strerror})",
                               hint="choose a writable directory with --runs or CODERIG_RUNS") from None
        self._lock_fd = self._take_lock()
        # Checked again under the lock: the process we waited for (or lost a race to) may have published it.
        if (self.path / MANIFEST).is_file() and not (self.final / MANIFEST).is_file():
            # An earlier run wrote its manifest but died before the rename: finish publishing.
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._rename_into_place()
        if self.final.is_dir() and not (self.final / MANIFEST).is_file() and any(self.final.iterdir()):
            # Not ours to replace, and the rename at publish would fail after all the work: refuse now.
            raise ConflictError(
                f"{self.final} exists but is not a published output (no {MANIFEST})",
                hint="it was altered or copied in part; move it aside and run again",
            )
        if (self.final / MANIFEST).is_file():
            self.existing = open_output(self.final)
            # A leftover staging copy of a published output is redundant (we hold the lock): drop it.
            shutil.rmtree(self.path, ignore_errors=True)
            return self
        self.path.mkdir(parents=True, exist_ok=True)
        # Temp files of a run that was killed (we hold the lock: nobody is writing them).
        shutil.rmtree(self.path / SCRATCH_DIR, ignore_errors=True)
        marker = self.path / ".config.json"
        if marker.is_file() and hash_json(json.loads(marker.read_text())) != self.config_hash:
            # Same key with another config is a hash collision or a tampered staging dir: start over.
            shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
        atomic_write_bytes(marker, canonical_json(self.config).encode())
        (self.path / LOGS_DIR).mkdir(exist_ok=True)
        return self

    def _take_lock(self) -> int:
        """Hold the key's build lock: refuse (ConflictError) while another process holds it, or wait for it."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not self.wait:
                    raise ConflictError(
                        f"{self.ref} is being built by another process (lock {self._lock_path})",
                        hint="wait for it to finish, or remove the lock file if that process is gone",
                    ) from None
                log.info("waiting for %s: another process is building it (lock %s)", self.ref, self._lock_path)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _drop_redundant_staging(self) -> None:
        """Remove a staging copy of an output published already, if no builder holds it (best effort)."""
        if not self.path.is_dir():
            return
        try:
            fd = os.open(self._lock_path, os.O_RDWR)
        except OSError:
            return  # no lock file, or a read-only store: leave it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(self.path, ignore_errors=True)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass  # held by a builder that is about to find the output published itself
        finally:
            os.close(fd)

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        try:
            if (isinstance(exc, CoderigError) and exc.exit_code in (ExitCode.INVALID_INPUT, ExitCode.USAGE)
                    and self.published is None and self.existing is None and not self.completed_units()):
                # Bad input found before any work was saved: there is nothing to resume, so nothing is left
                # behind. A crash or an interrupt keeps its staging dir (its log, and units for resume).
                # The lock file stays: unlinking a lock others may have opened would let two builders in.
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            if self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- units of resumable work ---------------------------------------------------------------
    def _unit_path(self, unit: str) -> Path:
        check_name(unit)
        return self.path / UNITS_DIR / f"{unit}.jsonl"

    def has_unit(self, unit: str) -> bool:
        """Whether a unit of work was completed (possibly by an interrupted earlier run)."""
        return self._unit_path(unit).is_file()

    def completed_units(self) -> set[str]:
        """Names of the completed units."""
        d = self.path / UNITS_DIR
        return {p.stem for p in d.glob("*.jsonl")} if d.is_dir() else set()

    def write_unit(self, unit: str, records: Iterable[BaseModel]) -> None:
        """Save a completed unit of records atomically (all of it, or none)."""
        atomic_write_bytes(self._unit_path(unit), dump_jsonl(records))

    def read_unit(self, unit: str, model: type[M]) -> list[M]:
        """Records of a completed unit, validated."""
        return list(iter_jsonl(self._unit_path(unit), model))

    # -- output files -------------------------------------------------------------------------
    def file(self, rel: str) -> Path:
        """Path of an output file inside the staging directory (parents created)."""
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_records(self, rel: str, records: Iterable[BaseModel]) -> int:
        """Write a JSONL output file of validated models; return the record count."""
        items = list(records)
        atomic_write_bytes(self.file(rel), dump_jsonl(items))
        return len(items)

    def write_json(self, rel: str, obj: Any) -> None:
        """Write a JSON output file."""
        atomic_write_json(self.file(rel), obj)

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write any output file."""
        atomic_write_bytes(self.file(rel), data)

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        """A scratch directory inside the staging directory, made the process's temp directory while open.

        Libraries that write temp files (openpyxl's write-only sheets, for one) then write them beside
        the output instead of in /tmp: a killed build leaves no debris outside the store, and the next
        run (or :meth:`publish`) removes the scratch directory. Not thread-safe (``tempfile.tempdir``
        is process-wide), like the commands that use it.
        """
        d = self.path / SCRATCH_DIR
        d.mkdir(parents=True, exist_ok=True)
        previous = tempfile.tempdir
        tempfile.tempdir = str(d)
        try:
            yield d
        finally:
            tempfile.tempdir = previous

    @property
    def log_path(self) -> Path:
        """The stage's log file (kept with the output, not hashed)."""
        return self.path / LOGS_DIR / f"{self.stage}.log"

    @contextmanager
    def log_to_file(self) -> Iterator[Path]:
        """Copy the ``coderig`` log into :attr:`log_path` while the block runs; yields that path.

        The handler is removed and closed when the block ends, also on an error, so a later build in
        the same process does not write into this one's log. Its file follows the staging directory
        when :meth:`publish` renames it, so lines logged after the publish land in the published log.
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger("coderig")
        root.addHandler(handler)
        try:
            yield self.log_path
        finally:
            root.removeHandler(handler)
            handler.close()

    def mark(self, phase: str) -> None:
        """Record the wall time since the previous mark under a phase name."""
        now = time.monotonic()
        self.timings[phase] = round(now - self._t0, 6)
        self._t0 = now

    # -- publish -------------------------------------------------------------------------------
    def publish(self, stats: dict[str, Any] | None = None, schema_names: dict[str, str] | None = None,
                identity: RunIdentity | None = None) -> PublishedOutput:
        """Write the manifest last and atomically rename the output into place.

        ``identity``: the run's typed identity (generate outputs), recorded in the manifest.

        If another process published the same output meanwhile, that one is kept and returned.
        """
        if self.existing is not None:
            return self.existing
        shutil.rmtree(self.path / SCRATCH_DIR, ignore_errors=True)
        for stray in self.path.rglob(".*.tmp"):
            # atomic_write's temp files that a kill -9 left mid-write (we hold the lock: none is live)
            stray.unlink(missing_ok=True)
        outputs = []
        for p in sorted(self.path.rglob("*")):
            rel = p.relative_to(self.path).as_posix()
            if (
                not p.is_file() or rel == MANIFEST or p.name.startswith(".")
                or rel.startswith((LOGS_DIR + "/", UNITS_DIR + "/"))
            ):
                continue
            outputs.append(FileEntry(
                path=rel, sha256=sha256_file(p), size=p.stat().st_size,
                records=count_lines(p) if p.suffix == ".jsonl" else None,
                schema_name=(schema_names or {}).get(rel),
            ))
        (self.path / ".config.json").unlink(missing_ok=True)
        manifest = Manifest(
            stage=self.stage, name=self.name, key=self.key, tool=self.tool, tool_version=self.tool_version,
            git_sha=git_sha(), created_at=datetime.now(UTC), started_at=self.started_at,
            config=self.config, config_hash=self.config_hash,
            inputs=[i.as_input() for i in self.inputs], outputs=outputs,
            environment=capture_environment(self.packages), timings=self.timings, stats=stats or {},
            identity=identity,
        )
        atomic_write_json(self.path / MANIFEST, manifest)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._rename_into_place()
        self.published = open_output(self.final)
        return self.published

    def _rename_into_place(self) -> None:
        # Units are scratch: move them aside first so the published directory holds outputs only.
        units = self.path / UNITS_DIR
        if units.is_dir():
            aside = self.path.with_name(f"{self.key}.units-{os.getpid()}")
            os.rename(units, aside)
            shutil.rmtree(aside, ignore_errors=True)
        # Numbered before the rename: a run killed in between finishes the rename later, already numbered.
        self._number_version()
        try:
            # A rename onto a non-empty directory fails, so a published output is never replaced.
            os.rename(self.path, self.final)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            # Someone else published the same output first: theirs stands, ours is dropped.
            shutil.rmtree(self.path, ignore_errors=True)


    def _number_version(self) -> None:
        """Give this key the next publication number of its name (once), under the name's lock.

        The number, not a clock, orders a name's versions ('latest'): machines sharing a store may
        disagree about the time, but they take numbers one at a time.
        """
        versions = self.store.versions_dir(self.stage, self.name)
        if self.key in read_versions(versions):
            return
        versions.mkdir(parents=True, exist_ok=True)
        fd = os.open(versions / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for a directory listing and one create: waiting is short
            numbers = read_versions(versions)
            if self.key in numbers:
                return
            # Where flock does not reach across machines, two keys could take one number: ties are ordered
            # by key, the same way on every machine.
            seq = max(numbers.values(), default=0) + 1
            os.close(os.open(versions / f"{seq:010d}-{self.key}", os.O_WRONLY | os.O_CREAT, 0o644))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def verify_chain(out: PublishedOutput, store: RunStore, _seen: set[str] | None = None) -> None:
    """Check the whole input chain of an output, up to the first stage.

    Each input must still exist with the manifest sha256 recorded and every file read from it
    unchanged; then each input is checked the same way in turn (its own files against its manifest,
    and its inputs), so an altered output two or more stages up is found too.
    """
    seen = set() if _seen is None else _seen
    for inp in out.manifest.inputs:
        up = store.resolve(inp.ref)
        if up.manifest_sha256 != inp.manifest_sha256:
            raise InvalidInputError(
                f"{out.path / MANIFEST}: input {inp.ref} has manifest sha256 {up.manifest_sha256[:12]}..., "
                f"expected {inp.manifest_sha256[:12]}...",
                hint="the upstream output was altered; re-run the chain",
            )
        for f in inp.files:
            p = up.path / f.path
            if not p.is_file():
                raise InvalidInputError(f"{p}: missing; {out.ref} read it", hint="the store was altered; re-run the chain")
            if sha256_file(p) != f.sha256:
                raise InvalidInputError(f"{p}: sha256 changed since {out.ref} read it", hint="re-run the chain")
        if up.ref not in seen:
            seen.add(up.ref)
            up.verify()
            verify_chain(up, store, seen)
