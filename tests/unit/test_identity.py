"""A run's identity (coderig_schemas.identity), its label and name, and the scored run both later stages open."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from coderig_schemas import InvalidInputError, Manifest, RunIdentity, RunStore
from coderig_schemas.analysis import RunConfig
from coderig_schemas.identity import derive_identity, run_name, system_prompt_sha256
from coderig_schemas.layout import SAMPLES
from coderig_schemas.scored import open_scored_run
from coderig_schemas.store import check_name
from tests.factories import make_problem, make_result, make_sample, publish_generate, publish_score

BASE = RunIdentity(model="qwen3_8b", dataset="mbpp", split="test", seed=0, temperature=0.8, top_p=0.95, top_k=-1,
                   max_tokens=1024, n=1, template_id="mbpp", chat_template=True, engine="vllm")


def test_label_reads_the_settings_and_says_what_is_unusual() -> None:
    assert BASE.label() == "T=0.8 top_p=0.95 max=1024 tpl=chat"
    odd = BASE.model_copy(update={"n": 5, "top_k": 40, "chat_template": False, "enable_thinking": True,
                                  "system_prompt_sha256": system_prompt_sha256("Be brief.")})
    assert odd.label() == f"T=0.8 top_p=0.95 max=1024 tpl=plain n=5 top_k=40 sys={system_prompt_sha256('Be brief.')[:6]} think=on"  # type: ignore[index]
    unknown = RunIdentity(model="m", dataset="d")
    assert unknown.label() == "T=? top_p=? max=? tpl=?"


def test_config_id_ignores_the_seed_only() -> None:
    assert BASE.config_id == BASE.model_copy(update={"seed": 7}).config_id
    assert BASE.config_id == BASE.model_copy(update={"derived": True}).config_id  # the same settings read back from an old output
    for change in ({"temperature": 0.2}, {"top_p": 1.0}, {"split": "validation"}, {"engine": "openai"}, {"template_id": "x"},
                   {"max_tokens": 512}, {"chat_template": False}, {"model": "other"}):
        assert BASE.model_copy(update=change).config_id != BASE.config_id, change


def test_names_of_a_sweep_are_distinct_valid_and_start_with_model_and_dataset() -> None:
    names = {run_name(BASE.model_copy(update={"temperature": t, "split": s, "seed": k, "top_p": p}))
             for t in (0.2, 0.8) for s in ("test", "validation", "train", "prompt") for k in (0, 1, 2) for p in (0.9, 1.0)}
    assert len(names) == 2 * 4 * 3 * 2
    assert all(check_name(n) == n and n.startswith("qwen3_8b__mbpp__") for n in names)
    assert BASE.name() == f"qwen3_8b__mbpp__test__t0.8-p0.95-m1024-chat-{BASE.config_id[:6]}__s0"
    odd = BASE.model_copy(update={"model": "Qwen/Qwen2.5-Coder-7B", "split": "train,test", "seed": None})
    assert check_name(odd.name()) and odd.name().startswith("Qwen-Qwen2.5-Coder-7B__mbpp__train+test__") and odd.name().endswith("__snone")


def test_an_old_manifest_without_identity_reads_and_a_v1_with_one_is_refused(tmp_path: Path, run_store: Path) -> None:
    gen = publish_generate(run_store, [make_problem("p0")], [make_sample(make_problem("p0"))])
    data = json.loads((gen.path / "manifest.json").read_text())
    assert data["schema_version"] == 2 and data["identity"] is None
    v1 = {k: v for k, v in data.items() if k != "identity"} | {"schema_version": 1}
    assert Manifest.model_validate_json(json.dumps(v1)).identity is None
    with pytest.raises(ValueError, match="identity: not a field of a version 1 Manifest"):
        Manifest.model_validate_json(json.dumps(v1 | {"identity": BASE.model_dump(mode="json")}))


def test_identity_derived_from_an_old_coderig_generate_config_equals_the_published_one(run_store: Path, shared_data: Path,
                                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from coderig_generate.cli import main

    monkeypatch.setenv("CODERIG_DATA_DIR", str(shared_data))
    r = CliRunner().invoke(main, ["run", "--quiet", "--model", "reference", "--engine", "replay", "--dataset", "humaneval",
                                  "--limit", "1", "--temperature", "0.6", "--top-p", "0.9", "--no-chat-template"])
    assert r.exit_code == 0, r.stderr
    out = RunStore(run_store).resolve("generate/" + Path(r.stdout.strip()).parent.name)
    published = out.manifest.identity
    assert published is not None and not published.derived
    assert published.label() == "T=0.6 top_p=0.9 max=1024 tpl=plain" and published.split == "test" and published.seed == 0
    first = json.loads((out.path / SAMPLES).read_text().splitlines()[0])
    derived = derive_identity(out.manifest.config, name=out.manifest.name, first_sample=first)
    assert derived.derived and derived.config_id == published.config_id
    assert derived.model_dump(exclude={"derived"}) == published.model_dump(exclude={"derived"})


def test_identity_of_another_generator_comes_from_its_config_then_its_samples_then_its_name() -> None:
    derived = derive_identity({"model": {"name": "m7"}, "temperature": 0.7, "template": "plain", "preset": "balanced"},
                              name="m7__mbpp__s3", first_sample={"dataset": "mbpp", "split": "test", "sampling": {"max_tokens": 64}})
    assert (derived.model, derived.dataset, derived.split, derived.seed) == ("m7", "mbpp", "test", 3)
    assert (derived.temperature, derived.max_tokens, derived.template_id, derived.preset) == (0.7, 64, "plain", "balanced")
    bare = derive_identity({}, name="x__y__s1")
    assert (bare.model, bare.dataset, bare.seed, bare.temperature) == ("x", "y", 1, None)


def _publish(root: Path, config: dict[str, object] | None = None) -> tuple[str, str]:
    problems = [make_problem(f"p{i}") for i in range(2)]
    samples = [make_sample(p, k, seed=4) for p in problems for k in range(2)]
    results = [make_result(s, "passed" if k % 2 else "wrong_answer") for k, s in enumerate(samples)]
    results = [results[i] for i in (3, 0, 2, 1)]  # out of samples order: the join must not care
    gen = publish_generate(root, problems, samples, seed=4, config=config)
    return gen.ref, publish_score(root, gen, results).ref


def test_open_scored_run_joins_results_samples_and_problems_with_the_identity(run_store: Path) -> None:
    gen_ref, ref = _publish(run_store, {"model": "toy-model", "dataset": "toy", "seed": 4, "temperature": 0.3, "top_p": 0.5})
    store = RunStore(run_store)
    run = open_scored_run(store, store.resolve(ref))
    assert run.generate is not None and run.generate.ref == gen_ref
    assert (run.model, run.seed, run.identity.temperature, run.identity.split) == ("toy-model", 4, 0.3, "test")
    assert run.label == "T=0.3 top_p=0.5 max=256 tpl=?" and run.identity.derived  # max_tokens: the samples say
    rows = list(run.rows())
    assert [r.result.sample_id for r in rows] == [r.sample.sample_id for r in rows]
    assert [r.result.sample_id for r in rows] == ["p1#s4#1", "p0#s4#0", "p1#s4#0", "p0#s4#1"]
    assert all(r.problem.problem_id == r.result.problem_id for r in rows)
    assert RunConfig.from_identity(run.identity).label == run.label


def test_a_missing_generate_output_is_an_error_for_export_and_an_issue_for_analyze(run_store: Path) -> None:
    gen_ref, ref = _publish(run_store)
    store = RunStore(run_store)
    score = store.resolve(ref)
    shutil.rmtree(store.resolve(gen_ref).path)
    with pytest.raises(InvalidInputError, match="generate"):
        open_scored_run(store, score)
    run = open_scored_run(store, score, strict=False)
    assert run.generate is None and run.generate_problem and "unavailable" in run.generate_problem
    # the identity then comes from the results themselves
    assert (run.model, run.identity.dataset, run.identity.split, run.seed) == ("toy-model", "toy", "test", 4)
    with pytest.raises(InvalidInputError):
        list(run.rows())


def test_analyze_and_export_read_the_same_identity(run_store: Path) -> None:
    from coderig_analyze.inputs import load_run, open_run
    from coderig_export.load import open_runs
    from coderig_export.workbook import run_label

    _, ref = _publish(run_store, {"model": {"name": "toy-model"}, "temperature": 0.9, "max_tokens": 32})
    store = RunStore(run_store)
    scored, issues = open_run(store, store.resolve(ref))
    data, _ = load_run(scored)
    [exported] = open_runs(store, [ref])
    label = run_label(exported)
    assert issues == [] and data.config.label == label.config == "T=0.9 top_p=1 max=32 tpl=?"
    assert (data.config.model_name, data.config.seed, data.config.config_id) == (label.model, label.seed, label.config_id)


def test_charts_and_seed_groups_never_pool_two_temperatures_of_one_model(run_store: Path) -> None:
    from coderig_analyze.charts import _by_config
    from coderig_analyze.cli import main as analyze_main
    from coderig_schemas.analysis import Analysis
    from tests.factories import scored_run

    refs = []
    for temperature, seed, verdicts in ((0.2, 0, ["passed", "wrong_answer"]), (0.8, 0, ["wrong_answer", "wrong_answer"]),
                                        (0.2, 1, ["passed", "passed"])):
        config = {"model": "m", "dataset": "toy", "seed": seed, "temperature": temperature, "max_tokens": 64}
        refs.append(scored_run(run_store / f"t{temperature}", {"p0": verdicts[:1], "p1": verdicts[1:]}, model="m",
                               seed=seed, config=config))
    # three stores would be three analyses: copy the runs into one (names collide under the old naming, so move by key)
    store = run_store / "one"
    for ref in refs:
        for stage in ("generate", "score"):
            src = ref.path.parents[2] / stage
            for version in src.glob("*/*"):
                dest = store / stage / f"{version.parent.name}" / version.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if not dest.exists():
                    shutil.copytree(version, dest)
    keys = [f"score/{r.manifest.name}/{r.manifest.key}" for r in refs]
    r = CliRunner().invoke(analyze_main, ["run", *keys, "--name", "temps", "--runs", str(store), "--quiet"])
    assert r.exit_code == 0, r.stderr
    analysis = Analysis.model_validate_json((Path(r.stdout.strip()) / "analysis.json").read_text())
    groups = _by_config(analysis)
    assert [title for title, _ in groups] == ["m / toy/test / T=0.2 top_p=1 max=64 tpl=?", "m / toy/test / T=0.8 top_p=1 max=64 tpl=?"]
    assert [len(runs) for _, runs in groups] == [2, 1]
    assert sorted((g.config.label, g.runs) for g in analysis.seed_analysis) == [
        ("T=0.2 top_p=1 max=64 tpl=?", 2), ("T=0.8 top_p=1 max=64 tpl=?", 1)]


def test_a_local_model_path_is_not_part_of_the_configuration() -> None:
    # The same tiny model natively (/work/x/.cache/...) and in the generate container (/cache/...): one config.
    base = {"model": "tiny-random", "dataset": "humaneval", "split": "test", "seed": 0, "temperature": 0.8, "top_p": 0.95,
            "max_tokens": 64, "chat_template": True, "engine": "vllm"}
    native = RunIdentity(**base, model_id="/work/main/.cache/models/tiny-random")
    boxed = RunIdentity(**base, model_id="/cache/models/tiny-random")
    assert native.config_id == boxed.config_id and native.name() == boxed.name()
    # a hub id (or revision) is the model itself: it stays in the hash
    assert RunIdentity(**base, model_id="Qwen/Qwen2.5-0.5B").config_id != RunIdentity(**base, model_id="Qwen/Qwen2.5-1.5B").config_id
