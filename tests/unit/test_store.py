"""The run store: immutable publish, no-op re-runs, versions, resume, concurrency, hash checks."""

from __future__ import annotations

import errno
import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from coderig_schemas import ConflictError, InvalidInputError, RunStore, Sample
from coderig_schemas.io import sha256_file
from coderig_schemas.layout import PROBLEMS, RESULTS, SAMPLES, default_name
from coderig_schemas.store import PublishedOutput, check_name, verify_chain
from tests.factories import make_problem, make_sample, publish_generate, publish_score, scored_run


def _begin(store: RunStore, config: dict[str, object] | None = None, name: str = "m__d__s0"):  # type: ignore[no-untyped-def]
    return store.begin(stage="generate", name=name, config=config or {"a": 1}, inputs=[], tool="t", tool_version="0")


def test_publish_writes_manifest_with_hashes(run_store: Path) -> None:
    p = make_problem("p1")
    out = publish_generate(run_store, [p], [make_sample(p)])
    assert out.path == run_store / "generate" / "toy-model__toy__s0" / out.manifest.key
    entries = {e.path: e for e in out.manifest.outputs}
    assert set(entries) == {PROBLEMS, SAMPLES}
    assert entries[SAMPLES].sha256 == sha256_file(out.path / SAMPLES)
    assert entries[SAMPLES].records == 1
    assert not (run_store / ".staging" / "generate" / "toy-model__toy__s0" / out.manifest.key).exists()
    assert out.manifest.environment.python.startswith("3.")


def test_crash_before_publish_leaves_nothing_published(run_store: Path) -> None:
    store = RunStore(run_store)
    with pytest.raises(RuntimeError), _begin(store) as b:
        b.write_unit("u0", [make_problem("p1")])
        raise RuntimeError("crash")
    assert store.list_outputs("generate") == []
    assert not (run_store / "generate").exists()
    # The completed unit survives for resume.
    with _begin(store) as b2:
        assert b2.existing is None
        assert b2.completed_units() == {"u0"}
        assert [p.problem_id for p in b2.read_unit("u0", type(make_problem("x")))] == ["p1"]
        b2.write_records(PROBLEMS, b2.read_unit("u0", type(make_problem("x"))))
        out = b2.publish()
    assert out.has(PROBLEMS) and not (out.path / "units").exists()


def test_bad_input_before_any_unit_leaves_no_staging_dir(run_store: Path) -> None:
    store = RunStore(run_store)
    with pytest.raises(InvalidInputError), _begin(store) as b:
        staging = b.path
        assert staging.is_dir()
        raise InvalidInputError("answers.jsonl:3: not JSON", hint="fix the line")
    assert not staging.exists() and not (run_store / "generate").exists()
    # Once a unit is saved, bad input found later keeps it for the next run; so does a crash.
    with pytest.raises(InvalidInputError), _begin(store) as b:
        b.write_unit("u0", [make_problem("p1")])
        raise InvalidInputError("late", hint="fix")
    assert (staging / "units" / "u0.jsonl").is_file()
    with pytest.raises(RuntimeError), _begin(store, {"a": 2}) as b:
        crashed = b.path
        raise RuntimeError("engine died")
    assert (crashed / "logs").is_dir()  # kept: its log says why


@pytest.mark.parametrize("root", ["/proc/coderig-runs", "FILE/runs"])
def test_a_run_store_that_cannot_be_created_is_one_line(tmp_path: Path, root: str) -> None:
    from coderig_schemas import CoderigError

    (tmp_path / "FILE").write_text("not a directory")
    path = Path(root.replace("FILE", str(tmp_path / "FILE")))
    with pytest.raises(CoderigError, match=r"cannot create the run store's directories") as e, _begin(RunStore(path)):
        pass
    assert e.value.exit_code == 1 and str(path) in e.value.one_line() and "--runs or CODERIG_RUNS" in e.value.one_line()


def test_temp_files_left_by_a_killed_write_are_not_published(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store) as b:
        b.write_json("x.json", {"v": 1})
        (b.path / ".x.json.k3j2.tmp").write_text('{"v": ')  # what kill -9 mid-write leaves
        (b.path / "sub").mkdir()
        (b.path / "sub" / ".y.csv.a1.tmp").write_text("a,")
        out = b.publish()
    assert sorted(p.name for p in out.path.rglob("*") if p.is_file()) == ["manifest.json", "x.json"]


def test_rerun_with_same_inputs_is_a_noop(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store) as b:
        b.write_json("x.json", {"v": 1})
        first = b.publish()
    mtime = (first.path / "manifest.json").stat().st_mtime_ns
    with _begin(store) as b:
        assert b.existing is not None and b.existing.path == first.path
        assert b.publish().path == first.path
    assert (first.path / "manifest.json").stat().st_mtime_ns == mtime
    assert len(store.list_outputs("generate")) == 1


def test_other_config_gets_a_new_version_beside_and_latest_resolves(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store, {"a": 1}) as b:
        b.write_json("x.json", {"v": 1})
        one = b.publish()
    time.sleep(0.01)
    with _begin(store, {"a": 2}) as b:
        b.write_json("x.json", {"v": 2})
        two = b.publish()
    assert one.path.parent == two.path.parent and one.path != two.path
    assert (one.path / "x.json").read_text().strip().endswith("}")
    assert store.resolve("generate/m__d__s0").path == two.path
    assert store.resolve("generate/m__d__s0/latest").path == two.path
    assert store.resolve(f"generate/m__d__s0/{one.manifest.key}").path == one.path
    assert store.resolve("m__d__s0", stage="generate").path == two.path
    assert store.resolve(str(one.path)).path == one.path
    with pytest.raises(InvalidInputError, match="not a score output"):
        store.resolve("generate/m__d__s0", stage="score")
    with pytest.raises(InvalidInputError, match="no published output"):
        store.resolve("generate/nothing")


def test_downstream_key_changes_when_upstream_changes(run_store: Path) -> None:
    p = make_problem("p1")
    gen1 = publish_generate(run_store, [p], [make_sample(p)])
    gen2 = publish_generate(run_store, [p], [make_sample(p, raw_response="other")], config={"v": 2})
    s1 = publish_score(run_store, gen1, [])
    s2 = publish_score(run_store, gen2, [])
    assert s1.manifest.key != s2.manifest.key
    assert s1.manifest.inputs[0].ref == gen1.ref
    assert {f.path for f in s1.manifest.inputs[0].files} == {PROBLEMS, SAMPLES}
    verify_chain(s1, RunStore(run_store))


def test_changed_input_file_is_rejected_by_hash(run_store: Path) -> None:
    p = make_problem("p1")
    gen = publish_generate(run_store, [p], [make_sample(p)])
    victim = gen.path / SAMPLES
    os.chmod(victim, 0o644)
    victim.write_text(victim.read_text().replace("toy-model", "toy-modex"))
    again = RunStore(run_store).resolve(gen.ref)
    with pytest.raises(InvalidInputError, match="does not match the manifest"):
        list(again.records(SAMPLES, Sample))


def test_verify_chain_detects_altered_upstream(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    store = RunStore(run_store)
    gen = store.resolve(score.manifest.inputs[0].ref)
    (gen.path / PROBLEMS).write_text((gen.path / PROBLEMS).read_text() + "\n")
    with pytest.raises(InvalidInputError, match="changed"):
        verify_chain(score, store)


def test_corrupt_jsonl_line_names_file_line_and_field(run_store: Path) -> None:
    p = make_problem("p1")
    gen = publish_generate(run_store, [p], [make_sample(p), make_sample(p, 1)])
    path = gen.path / SAMPLES
    lines = path.read_text().splitlines()
    lines[1] = lines[1].replace('"sample_index":1', '"sample_index":"one"')
    bad = path.parent.parent / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    from coderig_schemas.io import read_jsonl

    with pytest.raises(InvalidInputError) as e:
        read_jsonl(bad, Sample)
    assert e.value.message == f"{bad}:2: sample_index: Input should be a valid integer"
    bad.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(InvalidInputError, match=r":2: <record>: Invalid JSON"):
        read_jsonl(bad, Sample)


def test_builder_lock_refuses_a_second_builder(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store), pytest.raises(ConflictError, match="being built by another process"), _begin(store):
        pass


def _publisher(root: str, delay: float, q: mp.Queue) -> None:  # type: ignore[type-arg]
    store = RunStore(Path(root))
    for _ in range(400):
        try:
            with store.begin(stage="generate", name="race", config={"a": 1}, inputs=[], tool="t", tool_version="0") as b:
                if b.existing is not None:
                    q.put(("noop", str(b.existing.path)))
                    return
                b.write_json("x.json", {"pid": os.getpid()})
                time.sleep(delay)
                q.put(("published", str(b.publish().path)))
                return
        except ConflictError:
            time.sleep(0.01)
    q.put(("gave-up", ""))


def test_concurrent_publishers_do_not_clobber(run_store: Path) -> None:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_publisher, args=(str(run_store), 0.05 * i, q)) for i in range(4)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(30)
    outcomes = sorted(q.get(timeout=5) for _ in procs)
    assert [o[0] for o in outcomes].count("published") == 1
    assert [o[0] for o in outcomes].count("noop") == 3
    assert len({o[1] for o in outcomes}) == 1
    outs = RunStore(run_store).list_outputs("generate")
    assert len(outs) == 1
    outs[0].verify()


def test_rename_never_replaces_a_published_output(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store) as b:
        b.write_json("x.json", {"v": "first"})
        first = b.publish()
    # A second staging dir for the same key (e.g. another machine racing on a shared store).
    with _begin(store) as b:
        assert b.existing is not None
    staging = run_store / ".staging" / "generate" / "m__d__s0" / first.manifest.key
    staging.mkdir(parents=True)
    (staging / "x.json").write_text('{"v": "second"}')
    (staging / "manifest.json").write_text((first.path / "manifest.json").read_text())
    with _begin(store) as b:
        assert b.existing is not None
    assert '"first"' in (first.path / "x.json").read_text()
    assert not staging.exists()


def test_invalid_names_are_rejected(run_store: Path) -> None:
    with pytest.raises(InvalidInputError, match="invalid output name"):
        _begin(RunStore(run_store), name="../escape")


def test_inputs_for_provenance_only_do_not_change_the_key(run_store: Path) -> None:
    p = make_problem("p1")
    gen1 = publish_generate(run_store, [p], [make_sample(p)])
    gen2 = publish_generate(run_store, [p], [make_sample(p, raw_response="x")], config={"v": 2})
    store = RunStore(run_store)
    keys = []
    for gen in (gen1, gen2):
        gen.path_of(PROBLEMS)
        with store.begin(stage="score", name="reftimes__toy", config={"problems": "h"}, inputs=[gen], tool="t",
                         tool_version="0", key_from_inputs=False) as b:
            if b.existing is None:
                b.write_json("t.json", {})
                out = b.publish()
                assert out.manifest.inputs[0].ref == gen1.ref
            keys.append(b.key)
    assert keys[0] == keys[1]


def test_published_files_are_readable_by_other_users(run_store: Path) -> None:
    p = make_problem("p1")
    out = publish_generate(run_store, [p], [make_sample(p)])
    for e in out.manifest.outputs:
        assert (out.path / e.path).stat().st_mode & 0o044 == 0o044
    assert (out.path / "manifest.json").stat().st_mode & 0o044 == 0o044


def _analysis_over(store: RunStore, score: PublishedOutput) -> PublishedOutput:
    # A downstream output that reads only the score's results (not the generate output behind it).
    score.path_of(RESULTS)
    with store.begin(stage="analyze", name="an", config={}, inputs=[score], tool="t", tool_version="0") as b:
        b.write_json("analysis.json", {})
        return b.publish()


def test_verify_chain_checks_the_whole_chain_not_only_direct_inputs(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    store = RunStore(run_store)
    analysis = _analysis_over(store, score)
    verify_chain(analysis, store)
    # Two levels up: the analysis never read it, but its score output did.
    gen = store.resolve(score.manifest.inputs[0].ref)
    victim = gen.path / SAMPLES
    victim.write_text(victim.read_text().replace("replay", "replaz"))
    with pytest.raises(InvalidInputError, match=r"samples\.jsonl: sha256 changed since score/"):
        verify_chain(analysis, store)


def test_verify_chain_missing_upstream_file_is_invalid_input(run_store: Path) -> None:
    score = scored_run(run_store, {"p1": ["passed"]})
    store = RunStore(run_store)
    gen = store.resolve(score.manifest.inputs[0].ref)
    (gen.path / PROBLEMS).unlink()
    with pytest.raises(InvalidInputError, match=r"problems\.jsonl: missing; .*read it"):
        verify_chain(score, store)


def test_disk_full_while_publishing_leaves_nothing_published_and_resumes(
    run_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import coderig_schemas.store as store_mod

    real = store_mod.atomic_write_json

    def full(path: Path, obj: object) -> None:
        if path.name == "manifest.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, obj)

    store = RunStore(run_store)
    monkeypatch.setattr(store_mod, "atomic_write_json", full)
    with pytest.raises(OSError, match="No space left"), _begin(store) as b:
        b.write_unit("u0", [make_problem("p1")])
        b.write_json("x.json", {"v": 1})
        b.publish()
    assert store.list_outputs("generate") == []
    assert not (run_store / "generate").exists()
    assert not list((run_store / ".staging").rglob("*.tmp"))
    monkeypatch.setattr(store_mod, "atomic_write_json", real)
    with _begin(store) as b:
        assert b.existing is None and b.completed_units() == {"u0"}
        out = b.publish()
    out.verify()
    assert [o.ref for o in store.list_outputs("generate")] == [out.ref]


def test_a_rename_that_fails_is_finished_by_the_next_run(run_store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # kill -9 (or an I/O error) after the manifest is written but before the rename: the next run publishes.
    import coderig_schemas.store as store_mod

    store = RunStore(run_store)
    calls = []

    def failing_rename(src: object, dst: object) -> None:
        calls.append(dst)
        raise OSError(errno.EIO, "Input/output error")

    with _begin(store) as b:
        b.write_json("x.json", {"v": 1})
        monkeypatch.setattr(store_mod.os, "rename", failing_rename)
        with pytest.raises(OSError):
            b.publish()
        monkeypatch.undo()
    assert calls and store.list_outputs("generate") == []
    with _begin(store) as b:
        assert b.existing is not None
    b.existing.verify()


def test_latest_is_the_newest_of_several_versions_and_ignores_other_names(run_store: Path) -> None:
    store = RunStore(run_store)
    refs = []
    for v in (1, 2, 3):
        with _begin(store, {"v": v}, name="m") as b:
            b.write_json("x.json", {"v": v})
            refs.append(b.publish().ref)
    with _begin(store, {"v": 9}, name="m2") as b:  # a name that extends "m" is another output
        b.write_json("x.json", {})
        b.publish()
    # Re-running an older config is a no-op: latest stays the newest publication.
    with _begin(store, {"v": 1}, name="m") as b:
        assert b.existing is not None
    assert store.resolve("generate/m").ref == refs[-1]
    assert store.resolve("generate/m/latest").ref == refs[-1]
    assert store.resolve("m", stage="generate").ref == refs[-1]
    assert store.resolve(refs[0]).ref == refs[0]
    with pytest.raises(InvalidInputError, match="is a generate output, not a score output"):
        store.resolve("generate/m", stage="score")


def test_default_name_of_any_model_is_a_valid_output_name() -> None:
    for model in ("modèle-7b", "/models/my model", "Qwen/Qwen2.5-Coder-7B", "ünï", "a:b@c"):
        name = default_name(model, "humaneval", 0)
        assert check_name(name) == name
    assert default_name("Qwen/Qwen2.5-Coder-7B", "humaneval", 0) == "Qwen-Qwen2.5-Coder-7B__humaneval__s0"


def test_altered_output_hint_says_how_to_rebuild_it(run_store: Path) -> None:
    # Re-running the stage is a no-op while the altered output stands, so the hint must say to remove it.
    p = make_problem("p1")
    gen = publish_generate(run_store, [p], [make_sample(p)])
    (gen.path / SAMPLES).write_text((gen.path / SAMPLES).read_text().replace("toy-model", "toy-modex"))
    with pytest.raises(InvalidInputError) as e:
        RunStore(run_store).resolve(gen.ref).path_of(SAMPLES)
    assert f"remove {gen.path} and re-run" in e.value.one_line()


def test_a_partial_directory_at_the_final_path_is_refused_before_any_work(run_store: Path) -> None:
    store = RunStore(run_store)
    with _begin(store) as b:
        final = b.final
    final.mkdir(parents=True)
    (final / "samples.jsonl").write_text("{}\n")  # e.g. a copy that stopped before manifest.json
    with pytest.raises(ConflictError, match="exists but is not a published output"), _begin(store):
        pass
    assert (final / "samples.jsonl").read_text() == "{}\n"
