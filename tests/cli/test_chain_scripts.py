"""The chain scripts behind `make run` and `make category`, with stub stages (no model, no sandbox).

Each test copies scripts/ into a temporary tree whose .venv/bin holds stub coderig tools that log their
arguments and print what the test asks for, so the scripts' own logic (exit codes, names, options) is
checked in a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coderig_schemas.store import check_name

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = ROOT / "stages/generate/src/coderig_generate/registry/categories.yaml"

# A stub tool: logs "<tool> <args...>" to $STUB_LOG, prints $STUB_OUT_<TOOL> (default: a fake output
# path) and exits with $STUB_RC_<TOOL> (default 0).
STUB = """#!/usr/bin/env bash
tool=$(basename "$0")
var=${tool//-/_}
echo "$tool $*" >> "$STUB_LOG"
out_var="STUB_OUT_$var"; rc_var="STUB_RC_$var"
if [ -n "${!out_var+x}" ]; then printf '%b' "${!out_var}"; else echo "/runs/${tool#coderig-}/x/0123456789abcdef"; fi
exit "${!rc_var:-0}"
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("coderig-generate", "coderig-score", "coderig-analyze", "coderig-export"):
        (bin_dir / tool).write_text(STUB)
        (bin_dir / tool).chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    return root


def _run(tree: Path, script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = tree / "calls.log"
    log.write_text("")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("STUB_", "MODEL", "DATASET", "RUNNER", "CATEGORY"))}
    full = {**keep, "STUB_LOG": str(log), "CATEGORIES_FILE": str(CATEGORIES), **env}
    r = subprocess.run(["bash", str(tree / "scripts" / script)], env=full, capture_output=True, text=True, timeout=60)
    return r, log.read_text().splitlines()


@pytest.mark.parametrize("rc", [1, 2, 3, 130])
def test_run_chain_stops_with_generates_exit_code(tree: Path, rc: int) -> None:
    # generate published one output, then failed: the chain must not score, analyze or export a partial run.
    r, calls = _run(
        tree, "run_chain.sh", MODEL="reference", STUB_OUT_coderig_generate="/runs/generate/a/0123456789abcdef\n",
        STUB_RC_coderig_generate=str(rc),
    )
    assert r.returncode == rc, r.stderr
    assert [c.split()[0] for c in calls] == ["coderig-generate"]
    assert r.stdout == ""


def test_run_chain_stops_with_a_later_stages_exit_code(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="reference", STUB_RC_coderig_score="3")
    assert r.returncode == 3
    assert [c.split()[0] for c in calls] == ["coderig-generate", "coderig-score"]


def test_run_chain_names_are_valid_store_names_for_paths_and_lists(tree: Path) -> None:
    # MODEL may be a local path or an HF id, DATASET a comma-separated list (generate accepts both); the
    # analysis and export names derived from them must be valid, or the chain fails after generate and score.
    r, calls = _run(tree, "run_chain.sh", MODEL="/models/my model", DATASET="humaneval,mbpp", ENGINE="openai")
    assert r.returncode == 0, r.stderr
    names = [c.split("--name ")[1].split()[0] for c in calls if "--name " in c]
    assert names == [
        "models-my-model__humaneval-mbpp",
        "models-my-model__humaneval-mbpp__finetune",
        "models-my-model__humaneval-mbpp__results",
    ]
    for n in names:
        check_name(n)
    # Unchanged for the usual names (so existing outputs are still found as no-ops).
    r, calls = _run(tree, "run_chain.sh", MODEL="Qwen/Qwen2.5-Coder-7B-Instruct", ENGINE="openai")
    assert any("--name Qwen-Qwen2.5-Coder-7B-Instruct__humaneval " in c + " " for c in calls)


def test_run_chain_passes_base_url_for_the_openai_engine(tree: Path) -> None:
    # README documents ENGINE=openai; without a way to pass the server URL that engine cannot start.
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", ENGINE="openai", BASE_URL="http://127.0.0.1:8000/v1")
    assert r.returncode == 0, r.stderr
    assert "--engine openai" in calls[0] and "--base-url http://127.0.0.1:8000/v1" in calls[0]


def test_run_chain_rejects_an_unknown_runner(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="reference", RUNNER="docker")
    assert r.returncode == 2
    assert "RUNNER=docker" in r.stderr and calls == []


def test_run_category_unknown_category_is_a_usage_error(tree: Path) -> None:
    r, calls = _run(tree, "run_category.sh", CATEGORY="nope", DRY_RUN="1")
    assert r.returncode == 2
    assert "unknown category 'nope'" in r.stderr and "known: coding_specialists" in r.stderr
    assert calls == []


def test_run_category_stops_with_generates_exit_code(tree: Path) -> None:
    r, calls = _run(
        tree, "run_category.sh", CATEGORY="smoke", STUB_OUT_coderig_generate="/runs/generate/a/0123456789abcdef\n",
        STUB_RC_coderig_generate="1",
    )
    assert r.returncode == 1
    assert [c.split()[0] for c in calls] == ["coderig-generate"]


def test_run_category_dry_run_only_plans(tree: Path) -> None:
    r, calls = _run(tree, "run_category.sh", CATEGORY="coding_specialists", DRY_RUN="1", STUB_OUT_coderig_generate="{}\n")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 1 and "--dry-run" in calls[0]
    for m in ("qwen3_8b", "qwen3_14b", "qwen3_32b", "qwen2_5_coder_7b", "qwen2_5_coder_14b"):
        assert f"--model {m} " in calls[0]


def test_run_category_model_override_keeps_the_datasets(tree: Path) -> None:
    # MODEL replaces the category's models (a machine without a GPU runs the category's datasets on reference)
    r, calls = _run(tree, "run_category.sh", CATEGORY="coding_specialists", MODEL="reference,tiny-random", DRY_RUN="1",
                    STUB_OUT_coderig_generate="{}\n")
    assert r.returncode == 0, r.stderr
    assert "--model reference --model tiny-random " in calls[0] and "qwen3_8b" not in calls[0]
    for d in ("humaneval", "mbpp", "humaneval_plus", "leetcode_hard", "bfcl_simple", "math500", "ifeval"):
        assert f"--dataset {d} " in calls[0]


@pytest.mark.parametrize(("script", "var"), [("run_chain.sh", "MODEL"), ("run_category.sh", "CATEGORY")])
def test_a_missing_required_variable_is_a_usage_error(tree: Path, script: str, var: str) -> None:
    r, calls = _run(tree, script)
    assert r.returncode == 2
    assert f"set {var}, e.g. make " in r.stderr and calls == []


def test_setup_fails_when_pip_fails(tmp_path: Path) -> None:
    # A failed install (e.g. no network) must fail `make setup`, or make marks setup as done and `make test`
    # later fails with "ruff: command not found".
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", root / "scripts")
    bin_dir = root / ".venv" / "bin"
    stubs = tmp_path / "stubs"
    bin_dir.mkdir(parents=True)
    stubs.mkdir()
    (bin_dir / "python").write_text("#!/usr/bin/env bash\nexit 0\n")  # every package is 'there'
    (bin_dir / "pip").write_text(
        '#!/usr/bin/env bash\ncase " $* " in *" install "*"-r "*) echo "ERROR: no network" >&2; exit 1;; esac\nexit 0\n'
    )
    (stubs / "apt-get").write_text("#!/usr/bin/env bash\nexit 0\n")  # never install system packages here
    for p in (bin_dir / "python", bin_dir / "pip", stubs / "apt-get"):
        p.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    r = subprocess.run(["bash", str(root / "scripts" / "setup.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "ERROR: no network" in r.stderr and "pip install failed" in r.stderr
    assert r.stdout == ""


# A stub docker: logs "docker <args...>"; `compose ... run ... -T <service> <args>` runs that stage's stub tool.
DOCKER_STUB = """#!/usr/bin/env bash
echo "docker $*" >> "$STUB_LOG"
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = -T ]; then exec "$STUB_TOOLS/coderig-${args[$((i + 1))]}" "${args[@]:$((i + 2))}"; fi
done
exit 0
"""


def test_run_chain_compose_runner_is_the_same_chain(tree: Path, tmp_path: Path) -> None:
    # RUNNER=compose must run every stage with exactly the native chain's arguments (all seeds, ENGINE, SPLIT,
    # FINETUNE_ARGS...), one container per stage, without compose re-running the dependencies of each service.
    env = {"MODEL": "Qwen/Qwen2.5-Coder-7B-Instruct", "DATASET": "mbpp", "SEEDS": "0,1", "SPLIT": "test", "ENGINE": "openai",
           "BASE_URL": "http://h:8000/v1", "TEMPERATURE": "0.2", "FINETUNE_ARGS": "--include-eval-splits",
           "STUB_OUT_coderig_generate": "/runs/generate/a/0123456789abcdef\n/runs/generate/b/0123456789abcdef\n"}
    r_native, native = _run(tree, "run_chain.sh", **env)
    assert r_native.returncode == 0, r_native.stderr
    docker_dir = tmp_path / "docker-bin"
    docker_dir.mkdir()
    (docker_dir / "docker").write_text(DOCKER_STUB)
    (docker_dir / "docker").chmod(0o755)
    r, calls = _run(tree, "run_chain.sh", RUNNER="compose", STUB_TOOLS=str(tree / ".venv" / "bin"),
                    PATH=f"{docker_dir}:{os.environ['PATH']}", **env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == r_native.stdout
    docker = [c for c in calls if c.startswith("docker ")]
    assert docker[0] == "docker compose version"
    builds = [i for i, c in enumerate(docker) if c.startswith("docker build ")]
    runs = [i for i, c in enumerate(docker) if c.startswith("docker compose -f compose.yaml ")]
    # `make images` first (cached layers): the shared base, then the four stages on it; then the stages run
    assert len(builds) == 5 and max(builds) < min(runs)
    assert "images/base/Dockerfile" in docker[builds[0]] and all("images/base/" not in docker[i] for i in builds[1:])
    stages = [c for c in calls if not c.startswith("docker ")]
    assert stages == native
    assert [docker[i].split(" -T ")[1].split()[0] for i in runs] == ["generate", "score", "score", "analyze", "export", "export"]
    # no GPU here: the CPU override; no --rm (Podman's API loses an auto-removed container's exit code): rm by name
    assert all(" -f compose.cpu.yaml run --name coderig-" in docker[i] and " --no-deps -T " in docker[i] for i in runs)
    names = [docker[i].split(" --name ")[1].split()[0] for i in runs]
    assert [c for c in docker if c.startswith("docker rm ")] == [f"docker rm -f {n}" for n in names]
    assert "--seeds 0,1" in stages[0] and "--split test" in stages[0] and "--include-eval-splits" in stages[4]


def test_run_chain_compose_runner_stops_with_a_stages_exit_code(tree: Path, tmp_path: Path) -> None:
    docker_dir = tmp_path / "docker-bin"
    docker_dir.mkdir()
    (docker_dir / "docker").write_text(DOCKER_STUB)
    (docker_dir / "docker").chmod(0o755)
    r, calls = _run(tree, "run_chain.sh", MODEL="reference", RUNNER="compose", STUB_TOOLS=str(tree / ".venv" / "bin"),
                    PATH=f"{docker_dir}:{os.environ['PATH']}", STUB_RC_coderig_score="3")
    assert r.returncode == 3
    assert [c.split()[0] for c in calls if not c.startswith("docker ")] == ["coderig-generate", "coderig-score"]


def test_run_chain_compose_runner_without_compose_is_one_line(tree: Path, tmp_path: Path) -> None:
    # A docker CLI without the compose plugin answers 'unknown shorthand flag' and exit 125 (not in our table).
    docker_dir = tmp_path / "docker-bin"
    docker_dir.mkdir()
    (docker_dir / "docker").write_text('#!/usr/bin/env bash\necho "docker $*" >> "$STUB_LOG"\necho "unknown command" >&2\nexit 125\n')
    (docker_dir / "docker").chmod(0o755)
    r, calls = _run(tree, "run_chain.sh", MODEL="reference", RUNNER="compose", PATH=f"{docker_dir}:{os.environ['PATH']}")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1].startswith("RUNNER=compose needs Compose v2 (docker compose, docker-compose")
    assert calls == ["docker compose version"]


def test_run_category_analyzes_exactly_what_it_scored(tree: Path) -> None:
    # An older score output of the same model and dataset (another seed, other settings) must not enter the
    # comparison, or the analysis, the workbook and the fine-tuning data describe different runs.
    r, calls = _run(tree, "run_category.sh", CATEGORY="smoke",
                    STUB_OUT_coderig_generate="/runs/generate/a/0123456789abcdef\n/runs/generate/b/0123456789abcdef\n",
                    STUB_OUT_coderig_score="/runs/score/s/0123456789abcdef\n")
    assert r.returncode == 0, r.stderr
    analyze = [c for c in calls if c.startswith("coderig-analyze ")]
    exports = [c for c in calls if c.startswith("coderig-export ")]
    # the category is named (a label, not a selection: --category would pick the newest outputs by name)
    assert analyze == ["coderig-analyze run /runs/score/s/0123456789abcdef /runs/score/s/0123456789abcdef "
                       "--category-label smoke --name smoke"]
    assert all(c.split()[2:4] == ["/runs/score/s/0123456789abcdef"] * 2 for c in exports)


def test_run_chain_passes_the_reasoning_knobs(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", DATASET="math500", TOP_P="0.95", MAX_MODEL_LEN="4096",
                    SYSTEM_PROMPT="Think step by step.", CHAT_TEMPLATE="0", TEMPERATURE="0.6", MAX_TOKENS="512")
    assert r.returncode == 0, r.stderr
    gen = calls[0]
    for flag in ("--top-p 0.95", "--max-model-len 4096", "--system-prompt Think step by step.", "--no-chat-template",
                 "--temperature 0.6", "--max-tokens 512", "--dataset math500"):
        assert flag in gen, (flag, gen)
    # unset knobs pass nothing: the template's system prompt and the registry's chat setting stay
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", CHAT_TEMPLATE="1")
    assert "--system-prompt" not in calls[0] and "--top-p" not in calls[0] and "--chat-template" in calls[0].split()
    # set but empty: no system message at all
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", SYSTEM_PROMPT="")
    assert calls[0].endswith("--system-prompt ") or "--system-prompt  " in calls[0] + " "


def test_run_chain_refuses_a_bad_chat_template_value(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", CHAT_TEMPLATE="maybe")
    assert r.returncode == 2 and "CHAT_TEMPLATE=maybe" in r.stderr and calls == []


def test_reasoning_category_dry_run_plans_qwen3_thinking_on_math(tree: Path) -> None:
    r, calls = _run(tree, "run_category.sh", CATEGORY="reasoning", DRY_RUN="1", SEEDS="0,1,2", STUB_OUT_coderig_generate="{}\n")
    assert r.returncode == 0, r.stderr
    assert len(calls) == 1 and "--dry-run" in calls[0] and "--seeds 0,1,2" in calls[0]
    for m in ("qwen3_8b_thinking", "qwen3_14b_thinking", "qwen3_32b_thinking"):
        assert f"--model {m} " in calls[0]
    for d in ("math500", "aime24", "aime25", "gsm8k"):
        assert f"--dataset {d}" in calls[0]


def _finetune_call(calls: list[str]) -> str:
    (call,) = [c for c in calls if c.startswith("coderig-export finetune")]
    return call


def test_the_reference_demo_exports_evaluation_splits_and_says_so(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="reference", DATASET="mbpp")
    assert r.returncode == 0, r.stderr
    assert _finetune_call(calls).endswith("--include-eval-splits")
    assert "demo: the fine-tuning set keeps evaluation splits (--include-eval-splits)" in r.stderr
    assert [c.split()[0] for c in calls].count("coderig-generate") == 1  # its own answers pass: nothing added


def test_the_tiny_random_demo_adds_reference_answers_to_its_fine_tuning_set(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", LIMIT="5", SPLIT="test",
                    STUB_OUT_coderig_score="/runs/score/s/0123456789abcdef\n")
    assert r.returncode == 0, r.stderr
    generates = [c for c in calls if c.startswith("coderig-generate")]
    assert len(generates) == 2 and "--model tiny-random" in generates[0]
    assert "--model reference --dataset humaneval --engine replay --seeds 0 --n 1 --limit 5 --split test" in generates[1]
    assert [c.split()[0] for c in calls].count("coderig-score") == 2
    finetune = _finetune_call(calls)
    assert finetune.count("/runs/score/s/0123456789abcdef") == 2 and finetune.endswith("--include-eval-splits")
    analyze = next(c for c in calls if c.startswith("coderig-analyze"))
    assert analyze.count("/runs/score/") == 1  # the analysis is of the model's run only
    assert "takes the dataset's reference answers" in r.stderr and "(demo: reference answers" in r.stderr


def test_finetune_args_replace_the_demo_defaults_and_real_models_get_the_real_rules(tree: Path) -> None:
    r, calls = _run(tree, "run_chain.sh", MODEL="tiny-random", FINETUNE_ARGS="--mix all --seed 3")
    assert r.returncode == 0, r.stderr
    assert _finetune_call(calls).endswith("--mix all --seed 3") and "--include-eval-splits" not in _finetune_call(calls)
    assert len([c for c in calls if c.startswith("coderig-generate")]) == 1 and "demo:" not in r.stderr
    r, calls = _run(tree, "run_chain.sh", MODEL="qwen2_5_coder_7b")
    assert r.returncode == 0, r.stderr
    assert _finetune_call(calls).endswith("__finetune") and "demo:" not in r.stderr
