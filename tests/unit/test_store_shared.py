"""A run store several machines share (issue 15, point 6): locks that never refuse published work, clock-free
'latest', globs that say which versions they took, corrupt manifests skipped, refs from other stores refused,
temp files kept inside the staging area."""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import coderig_schemas.store as store_mod
from coderig_schemas import ConflictError, InvalidInputError, RunStore
from coderig_schemas.store import MANIFEST, Builder


def _begin(store: RunStore, config: dict[str, object] | None = None, name: str = "m__d__s0", wait: bool = False) -> Builder:
    extra = {"wait": True} if wait else {}
    return store.begin(stage="generate", name=name, config=config or {"a": 1}, inputs=[], tool="t", tool_version="0",
                       **extra)  # type: ignore[arg-type]


def _publish(store: RunStore, config: dict[str, object], name: str = "m__d__s0") -> store_mod.PublishedOutput:
    with _begin(store, config, name) as b:
        b.write_json("x.json", config)
        return b.publish()


def test_a_published_output_is_served_while_another_process_holds_its_build_lock(run_store: Path) -> None:
    # e.g. a second machine that lost the race to publish, still holding the lock while it drops its copy
    store = RunStore(run_store)
    first = _publish(store, {"a": 1})
    with _begin(store) as b:
        lock = b._lock_path
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another open file description: a real second holder
        with _begin(store) as again:
            assert again.existing is not None and again.existing.path == first.path
            assert again.publish().path == first.path
    finally:
        os.close(fd)
    # Unpublished work is still refused while another builder holds its lock.
    with _begin(store, {"a": 2}) as holder, pytest.raises(ConflictError, match="being built by another process"), \
            _begin(store, {"a": 2}):
        assert holder.existing is None


def test_a_waiting_builder_gets_the_output_the_lock_holder_publishes(run_store: Path) -> None:
    store = RunStore(run_store)
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            with _begin(store, wait=True) as b:
                outcome["existing"] = b.existing
        except BaseException as e:  # reported to the main thread
            outcome["error"] = e

    waiting = threading.Event()

    class Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "another process is building it" in record.getMessage():
                waiting.set()

    handler = Seen(level=logging.INFO)
    logger = logging.getLogger("coderig.store")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with _begin(store) as first:
            assert first.existing is None
            t = threading.Thread(target=second)
            t.start()
            assert waiting.wait(120), outcome  # the second builder waits on the lock (instead of refusing)
            first.write_json("x.json", {"v": 1})
            published = first.publish()
        t.join(120)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert not t.is_alive() and "error" not in outcome, outcome
    existing = outcome["existing"]
    assert isinstance(existing, store_mod.PublishedOutput) and existing.path == published.path


class _ClockAheadBy:
    """datetime for a machine whose clock runs ahead (store.py reads datetime.now(UTC) at publish)."""

    def __init__(self, skew: timedelta) -> None:
        self.skew = skew

    def now(self, tz: object = None) -> datetime:
        return datetime.now(UTC) + self.skew


def test_latest_follows_publication_numbers_not_machine_clocks(run_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RunStore(run_store)
    monkeypatch.setattr(store_mod, "datetime", _ClockAheadBy(timedelta(hours=3)))  # machine A, clock 3 h ahead
    first = _publish(store, {"v": 1})
    monkeypatch.undo()  # machine B, right clock, publishes afterwards
    second = _publish(store, {"v": 2})
    assert first.manifest.created_at > second.manifest.created_at
    assert store.resolve("generate/m__d__s0").ref == second.ref
    assert store.resolve("generate/m__d__s0/latest").version == 2
    assert [o.version for o in store.list_outputs("generate")] == [1, 2]
    assert store.version_numbers("generate", "m__d__s0") == {first.manifest.key: 1, second.manifest.key: 2}
    # A no-op re-run of the older version takes no new number.
    with _begin(store, {"v": 1}) as b:
        assert b.existing is not None
    assert store.resolve("generate/m__d__s0").ref == second.ref
    assert store.resolve(first.ref).version == 1


def test_versions_published_before_numbering_come_first_by_time(run_store: Path) -> None:
    store = RunStore(run_store)
    old1, old2 = _publish(store, {"v": 1}), _publish(store, {"v": 2})
    for f in store.versions_dir("generate", "m__d__s0").glob("0*"):
        f.unlink()  # as a store written by a coderig without publication numbers
    new = _publish(store, {"v": 3})
    assert [o.ref for o in store.versions("generate", "m__d__s0")] == [old1.ref, old2.ref, new.ref]
    assert [o.version for o in store.versions("generate", "m__d__s0")] == [None, None, 1]
    assert store.resolve("generate/m__d__s0").ref == new.ref


def test_a_killed_publish_is_numbered_once_when_finished(run_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    store = RunStore(run_store)

    def failing_rename(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    with _begin(store) as b:
        b.write_json("x.json", {})
        monkeypatch.setattr(store_mod.os, "rename", failing_rename)
        with pytest.raises(OSError):
            b.publish()
        monkeypatch.undo()
    with _begin(store) as b:  # finishes the rename
        assert b.existing is not None
    assert list(store.version_numbers("generate", "m__d__s0").values()) == [1]


def test_a_glob_says_which_versions_of_a_name_it_took(run_store: Path) -> None:
    store = RunStore(run_store)
    m = [_publish(store, {"v": v}, "m") for v in (1, 2, 3)]
    other = _publish(store, {"v": 9}, "m2")
    sel = store.select("generate", "m*")
    assert [o.ref for o in sel.outputs] == [m[2].ref, other.ref]
    assert len(sel.notes) == 1
    note = sel.notes[0]
    assert note.startswith("generate/m: 3 versions, took 1 (") and m[2].manifest.key in note and "the last published" in note
    assert m[0].manifest.key in note and m[1].manifest.key in note and "'generate/m*/*'" in note
    every = store.select("generate", "generate/m*/*")
    assert [o.ref for o in every.outputs] == [o.ref for o in m] + [other.ref] and every.notes == []
    one = store.select("generate", f"m/{m[0].manifest.key}")
    assert [o.ref for o in one.outputs] == [m[0].ref] and "3 versions, took 1" in one.notes[0]
    kept = store.select("generate", "m*", keep=lambda o: o.manifest.config["v"] != 3)
    assert [o.ref for o in kept.outputs] == [m[1].ref, other.ref]


def test_a_corrupt_manifest_is_skipped_by_listings_with_a_warning(run_store: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = RunStore(run_store)
    good = _publish(store, {"v": 1}, "good")
    bad_old = _publish(store, {"v": 1}, "bad")
    bad = _publish(store, {"v": 2}, "bad")
    (bad.path / MANIFEST).write_text('{"stage": "generate", ')
    with caplog.at_level(logging.WARNING, logger="coderig"):
        refs = [o.ref for o in store.list_outputs("generate")]
    assert refs == [bad_old.ref, good.ref]
    assert any(str(bad.path) in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records)
    assert [o.ref for o in store.select("generate", "*").outputs] == [bad_old.ref, good.ref]
    with pytest.raises(InvalidInputError, match=r"manifest\.json:1"):
        store.resolve(bad.ref)  # named exactly: the error itself
    with pytest.raises(InvalidInputError, match=r"manifest\.json:1"):
        store.resolve(str(bad.path))


def test_a_manifest_moved_by_hand_is_not_read_as_another_output(run_store: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = RunStore(run_store)
    out = _publish(store, {"v": 1}, "one")
    copy = run_store / "generate" / "two" / out.manifest.key
    copy.parent.mkdir()
    os.rename(out.path, copy)
    with caplog.at_level(logging.WARNING, logger="coderig"):
        assert store.list_outputs("generate") == []
    assert "its manifest says generate/one/" in caplog.text
    with pytest.raises(InvalidInputError, match="lies at generate/two/"):
        store.resolve(f"generate/two/{out.manifest.key}")


def test_an_output_of_another_store_is_refused_with_one_line(tmp_path: Path, run_store: Path) -> None:
    here, there = RunStore(run_store), RunStore(tmp_path / "other-runs")
    theirs = _publish(there, {"v": 1})
    mine = _publish(here, {"v": 2})
    with pytest.raises(InvalidInputError) as e:
        here.resolve(str(theirs.path))
    line = e.value.one_line()
    assert f"is an output of another run store ({(tmp_path / 'other-runs').resolve()})" in line
    assert f"--runs {(tmp_path / 'other-runs').resolve()}" in line and "\n" not in line and e.value.exit_code == 3
    # This store's outputs by path, also through a symlink or a relative path, are fine.
    link = tmp_path / "link"
    link.symlink_to(run_store)
    assert here.resolve(str(link / "generate" / "m__d__s0" / mine.manifest.key)).ref == mine.ref
    assert RunStore(link).resolve(str(mine.path)).ref == mine.ref
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert RunStore(Path("runs")).resolve(f"runs/generate/m__d__s0/{mine.manifest.key}").version == 1
    finally:
        os.chdir(cwd)


def test_scratch_keeps_library_temp_files_in_the_staging_area(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store) as b:
        with b.scratch() as scratch:
            fd, name = tempfile.mkstemp(prefix="openpyxl.")  # as a library does, without a dir
            os.close(fd)
            assert Path(name).parent == scratch and scratch.parent == b.path
        assert tempfile.gettempdir() != str(scratch)
        b.write_json("x.json", {})
        out = b.publish()
    assert sorted(p.name for p in out.path.rglob("*")) == ["logs", "manifest.json", "x.json"]


def test_scratch_left_by_a_killed_build_is_removed_by_the_next_run(run_store: Path) -> None:
    store = RunStore(run_store)
    with pytest.raises(KeyboardInterrupt), _begin(store) as b, b.scratch() as scratch:
        (scratch / "openpyxl.abc").write_text("half")
        raise KeyboardInterrupt
    assert (scratch / "openpyxl.abc").is_file()  # what SIGKILL would leave
    with _begin(store):
        assert not scratch.exists()


def test_atomic_path_renames_on_success_and_leaves_nothing_on_failure(tmp_path: Path) -> None:
    from coderig_schemas.io import atomic_path

    target = tmp_path / "book.xlsx"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a zip")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".book.xlsx.")
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]
    assert target.stat().st_mode & 0o044 == 0o044
