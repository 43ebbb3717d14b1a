"""The four images built and run for real: the locked-down scorer, the hostile suite inside it, the chain.

Through the real Compose v2 binary and compose.yaml's own settings (plus compose.cpu.yaml: no GPU here),
on Docker or Podman (tests/containers.py). The run store is a host directory bound at /runs, so the
test can snapshot it before and after.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coderig_schemas import RunStore, ScoreResult, Verdict
from tests.containers import NO_ENGINE, ROOT, Compose, build_images, compose_session, engine_command, give_to_image_user
from tests.factories import make_ifeval_problem, make_problem, make_sample, publish_generate
from tests.snapshots import changes, snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.containers]


@pytest.fixture(scope="session")
def engine() -> list[str]:
    cmd = engine_command()
    if cmd is None:
        pytest.skip(NO_ENGINE)
    return cmd


@pytest.fixture(scope="session")
def images(engine: list[str]) -> None:
    if os.environ.get("CODERIG_IMAGES_BUILT") == "1":  # `make images` just ran (saves a cached rebuild)
        return
    r = build_images()
    assert r.returncode == 0, r.stderr[-3000:]


@pytest.fixture(scope="session")
def compose(engine: list[str], images: None) -> Iterator[Compose]:
    with compose_session(engine) as c:
        yield c


ATTACKS = {
    # each attack raises where it is contained, so the sample fails there; had it worked, f would pass
    "list_store": "os.listdir('/runs')",
    "write_store": "open('/runs/pwned-by-sample.txt', 'w').write('x')",
    "read_other_output": "open('/runs/__VICTIM__').read()",
    "loopback_socket": "__import__('socket').create_connection(('127.0.0.1', 9), timeout=2)",
    "store_via_proc": "os.listdir('/proc/1/root/runs')",
    "kill_the_scorer": "os.kill(1, 9)",
}


def _hostile_store(tmp_path: Path) -> tuple[Path, str]:
    """A run store with a victim output (to be read) and a generate output of one sample per attack."""
    runs = tmp_path / "runs"
    victim = make_problem("victim")
    victim_out = publish_generate(runs, [victim], [make_sample(victim)], model="victim")
    manifest = str((victim_out.path / "manifest.json").relative_to(runs))
    problems, samples = [], []
    codes = {key: f"import os\n{attack.replace('__VICTIM__', manifest)}\ndef f(x):\n    return x\n" for key, attack in ATTACKS.items()}
    codes["correct"] = "def f(x):\n    return x\n"
    for key, code in codes.items():
        p = make_problem(key)
        problems.append(p)
        samples.append(make_sample(p, extracted_code=code))
    gen = publish_generate(runs, problems, samples, model="hostile")
    give_to_image_user(runs)
    return runs, gen.ref


def test_hostile_program_in_the_locked_down_score_container(compose: Compose, tmp_path: Path) -> None:
    """Done means (issue 14): lists and writes the store, reads other outputs, opens a socket to the container's
    loopback: non-passing verdicts, the store unchanged but for the scorer's own output, the scorer publishing."""
    runs, ref = _hostile_store(tmp_path)
    before = snapshot(runs)
    r = compose.run("score", "run", "--generate", ref, "--no-calibrate", "--json", runs=runs, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = RunStore(runs).resolve("score/" + ref.split("/")[1], stage="score")
    assert changes(before, snapshot(runs), published=str(out.path.relative_to(runs))) == []
    assert not (runs / "pwned-by-sample.txt").exists()
    results = {res.problem_id: res for res in
               map(ScoreResult.model_validate_json, (out.path / "results.jsonl").read_text().splitlines())}
    assert results["correct"].verdict == Verdict.PASSED  # the scorer was alive to the end
    for key in ATTACKS:
        assert results[key].verdict != Verdict.PASSED, (key, results[key])
    stats = out.manifest.stats
    print(f"score container: sandbox {stats['sandbox']}, layers {stats['sandbox_layers']}")  # in the CI log with -s
    assert "store-unreachable" in stats["sandbox_layers"] and "network-closed" in stats["sandbox_layers"]
    if stats["sandbox"] == "none":  # bubblewrap could not start: the Landlock jail held every attack
        assert any(layer.startswith("landlock") for layer in stats["sandbox_layers"])
        for key in ("list_store", "write_store", "read_other_output", "loopback_socket", "store_via_proc"):
            assert results[key].exception_type == "PermissionError", (key, results[key].error_message)


def test_hostile_suite_inside_the_locked_down_score_container(compose: Compose, engine: list[str], tmp_path: Path) -> None:
    """tests/integration/test_score_hostile.py, run by pytest inside the score container with compose.yaml's settings."""
    build = [*engine, "build", "-q", "--network", "host", "-f", str(ROOT / "tests" / "Dockerfile.score-test"),
             "-t", "coderig/score-test:0.1.0"]
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    if engine[0] == "podman" and ca.is_file():
        build += ["-v", f"{ca}:{ca}:ro"]  # registries behind a TLS proxy whose CA only the host's bundle holds
    b = subprocess.run([*build, str(ROOT / "tests")], capture_output=True, text=True, timeout=1800)
    assert b.returncode == 0, b.stderr[-3000:]
    runs = tmp_path / "runs"
    runs.mkdir()
    give_to_image_user(runs)
    r = compose.run("score", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-rs", "tests/integration/test_score_hostile.py",
                    runs=runs, files=[ROOT / "tests" / "compose.hostile.yaml"], entrypoint="python3", timeout=1800)
    print(r.stdout[-1500:])  # which tests ran inside, and the layers (CI log with -s)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and " failed" not in r.stdout and "skipped" not in r.stdout
    assert "sandbox none: layers ['landlock-abi" in r.stdout or "sandbox bwrap: layers ['bubblewrap'" in r.stdout


# Instructions whose verdicts need NLTK's trained Punkt model (sentence counts: 'Dr.' ends no sentence).
IFEVAL_GRADING = {"kind": "instruction_following",
                  "instruction_id_list": ["length_constraints:number_sentences", "change_case:capital_word_frequency"],
                  "kwargs": [{"relation": "less than", "num_sentences": 3}, {"capital_relation": "at least", "capital_frequency": 2}]}
IFEVAL_RESPONSES = {"q0": "The NASA team met. They LOVED it.", "q1": "Dr. Smith went home. He slept. He woke. END.",
                    "q2": "Dr. Who met Mr. Bean. BOTH LAUGHED."}


def test_the_score_image_grades_ifeval(compose: Compose, tmp_path: Path) -> None:
    """Issue 12: the image carries NLTK's punkt_tab data, so IFEval grades inside it as it does on the host."""
    from coderig_score.ifeval.result import score_sample

    runs = tmp_path / "runs"
    tests = [{"test_id": "i0", "code": "", "visibility": "hidden"}, {"test_id": "i1", "code": "", "visibility": "hidden"}]
    problems = [make_ifeval_problem(pid, grading=IFEVAL_GRADING, tests=tests) for pid in IFEVAL_RESPONSES]
    samples = [make_sample(p, model_name="handmade", raw_response=IFEVAL_RESPONSES[p.problem_id], extracted_code="",
                           extraction_method="not_applicable") for p in problems]
    ref = publish_generate(runs, problems, samples, model="handmade", dataset="toyif").ref
    give_to_image_user(runs)
    r = compose.run("score", "run", "--generate", ref, "--json", runs=runs, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = RunStore(runs).resolve("score/" + ref.split("/")[1], stage="score")
    got = {res.problem_id: (res.verdict, res.tests_passed, res.loose_tests_passed)
           for res in map(ScoreResult.model_validate_json, (out.path / "results.jsonl").read_text().splitlines())}
    host = {p.problem_id: (res.verdict, res.tests_passed, res.loose_tests_passed)
            for p, res in ((p, score_sample(p, s)) for p, s in zip(problems, samples, strict=True))}
    assert got == host
    # Punkt's abbreviations: 'Dr.', 'Mr.' end no sentence (q2: 2 sentences, passes); q1 has 4 sentences
    assert got["q0"][0] == got["q2"][0] == Verdict.PASSED and got["q1"][0] == Verdict.WRONG_ANSWER


MARKER = "<!-- container one-liners"


def doc_one_liners(path: Path) -> list[str]:
    """The `docker run` lines of the fenced block that follows the marker comment in a doc page."""
    text = path.read_text()
    assert MARKER in text, f"{path.name} has no container one-liners"
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("docker run ")]


@pytest.mark.parametrize("page", ["README.md", "docs/swapping-a-stage.md"])
def test_the_docs_one_liners_run_as_written(images: None, engine: list[str], page: str, tmp_path: Path) -> None:
    """Each stage's `docker run` line, as the page shows it: with Docker as written, with Podman the same line
    with `podman` for `docker` (the pages say so), Podman configured for this host by CONTAINERS_CONF only."""
    from tests.conftest import SHARED_DATA

    lines = doc_one_liners(ROOT / page)
    assert [line.split(" coderig/")[1].split(":")[0] for line in lines] == [
        "generate", "score", "analyze", "export"]
    (tmp_path / "runs").mkdir()
    give_to_image_user(tmp_path / "runs")
    env = {**os.environ, "CODERIG_DATA_DIR": str(SHARED_DATA)}
    if engine[0] == "podman":
        conf = tmp_path / "containers.conf"  # runc, and limits within this host's hard limits
        conf.write_text('[containers]\ndefault_ulimits = ["nofile=8192:8192", "nproc=4096:4096"]\n'
                        f'[engine]\nruntime = "{engine[2] if len(engine) > 2 else "runc"}"\n')
        env["CONTAINERS_CONF"] = str(conf)
    for line in lines:
        cmd = line if engine[0] == "docker" else "podman" + line[len("docker"):]
        r = subprocess.run(["bash", "-c", cmd], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, (cmd, r.stderr[-2000:])
        assert r.stdout.strip().startswith("/runs/"), (cmd, r.stdout)
    store = RunStore(tmp_path / "runs")
    score = store.resolve("score/reference__humaneval__test__t0-p1-m1024-chat-a5d6d8__s0", stage="score")  # as the README names it
    verdicts = [ScoreResult.model_validate_json(x).verdict for x in (score.path / "results.jsonl").read_text().splitlines()]
    assert verdicts == [Verdict.PASSED] * 3
    assert store.list_outputs("analyze") and store.list_outputs("export")


# Fields that say when, how fast or on which machine, never what: the only ones allowed to differ.
def _is_timing(key: str) -> bool:
    return key.endswith("_s") or key in ("machine", "created_at", "environment", "timings")


_REF_KEY = re.compile(r"^((?:generate|score|analyze|export)/[^/]+)/[0-9a-f]{16}$")
_ID_KEY = re.compile(r"@[0-9a-f]{16}$")  # a fine-tuning example's id: '<sample_id>@<key of the score output>'


def _strip(value: object) -> object:
    if isinstance(value, str):
        # An output's key hashes its config, which names the local model's path: keep stage/name only.
        return _ID_KEY.sub("@<key>", _REF_KEY.sub(r"\1", value))
    if isinstance(value, dict):
        out = {k: _strip(v) for k, v in value.items() if not _is_timing(k)}
        if isinstance(out.get("model_id"), str) and out["model_id"].startswith("/"):
            # a local model's path: the host's cache folder natively, /cache in the container; same files
            out["model_id"] = Path(out["model_id"]).name
        return out
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _records(store: Path) -> dict[str, object]:
    """stage/name/file -> its records without timing fields, for every published output but reference timings."""
    out: dict[str, object] = {}
    rs = RunStore(store)
    for stage in ("generate", "score", "analyze", "export"):
        for o in rs.list_outputs(stage):
            if o.manifest.name.startswith("reftimes__"):
                continue  # measured on the machine by definition
            for f in sorted(o.path.rglob("*")):
                rel = f"{stage}/{o.manifest.name}/{f.relative_to(o.path)}"
                if f.suffix == ".jsonl":
                    out[rel] = [_strip(json.loads(x)) for x in f.read_text().splitlines() if x.strip()]
                elif f.suffix == ".json" and f.name != "manifest.json":
                    out[rel] = _strip(json.loads(f.read_text()))
    return out


@pytest.mark.vllm
def test_compose_chain_equals_the_native_chain(images: None, engine: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run MODEL=tiny-random LIMIT=5` natively and with RUNNER=compose: the same records and verdicts."""
    from tests.e2e.test_make_run import _make

    native, boxed, cache = tmp_path / "native", tmp_path / "compose", tmp_path / "cache"
    boxed.mkdir()
    give_to_image_user(boxed)
    t0 = time.monotonic()
    n = _make("run", native, MODEL="tiny-random", LIMIT="5")
    t_native = time.monotonic() - t0
    assert n.returncode == 0, n.stderr[-3000:]
    # The same model files: tiny-random's tokenizer is trained on the running interpreter's standard library,
    # and the image's Python (Debian's 3.11.2) is not the host's, so a model built inside would be another one.
    host_cache = Path(os.environ.get("CODERIG_CACHE", ROOT / ".cache"))
    shutil.copytree(host_cache / "models" / "tiny-random", cache / "models" / "tiny-random")
    give_to_image_user(cache)
    monkeypatch.setenv("CODERIG_RUNS_VOLUME", str(boxed))
    monkeypatch.setenv("CODERIG_CACHE_VOLUME", str(cache))
    t0 = time.monotonic()
    c = _make("run", native, MODEL="tiny-random", LIMIT="5", RUNNER="compose")
    print(f"chain wall time: native {t_native:.0f} s, compose {time.monotonic() - t0:.0f} s")  # docs/benchmarks.md
    assert c.returncode == 0, c.stderr[-3000:]
    assert len(c.stdout.split()) == len(n.stdout.split()) == 5
    assert all(p.startswith("/runs/") for p in c.stdout.split())  # published inside the containers
    a, b = _records(native), _records(boxed)
    assert sorted(a) == sorted(b)
    assert any(k.startswith("score/") and k.endswith("results.jsonl") for k in a)
    for key in a:
        assert a[key] == b[key], (key, _first_difference(a[key], b[key]))


def _first_difference(x: object, y: object, where: str = "") -> str:
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                return _first_difference(x.get(k), y.get(k), f"{where}.{k}")
    if isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            if u != v:
                return _first_difference(u, v, f"{where}[{i}]")
    return f"{where}: {x!r:.200} != {y!r:.200}"


def test_the_score_image_carries_no_ml_libraries(images: None, engine: list[str]) -> None:
    probe = "import importlib.util as u; print([m for m in ('torch', 'vllm', 'transformers', 'tensorflow') if u.find_spec(m)])"
    r = subprocess.run([*engine, "run", "--rm", "--network", "none", "--ulimit", "nofile=8192:8192", "--ulimit", "nproc=4096:4096",
                        "--entrypoint", "python3", "coderig/score:0.1.0", "-c", probe],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]"
