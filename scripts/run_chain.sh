#!/usr/bin/env bash
# The chain behind `make run`: generate -> score -> analyze -> export for one model and dataset.
# Every stage is a no-op when its output already exists, so a second identical call publishes nothing.
# Inputs (environment): MODEL DATASET SEEDS N TEMPERATURE MAX_TOKENS LIMIT PRESET SPLIT ENGINE BASE_URL RUNNER
# FINETUNE_ARGS. A stage's failure stops the chain with that stage's exit code (see the README's table).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ -z "${MODEL:-}" ]; then echo "set MODEL, e.g. make run MODEL=tiny-random" >&2; exit 2; fi  # usage error
DATASET=${DATASET:-humaneval}
SEEDS=${SEEDS:-0}
N=${N:-1}
PRESET=${PRESET:-balanced}
RUNNER=${RUNNER:-native}
case "$RUNNER" in
  native | compose) ;;
  *) echo "RUNNER=$RUNNER: unknown runner; use RUNNER=native (the default) or RUNNER=compose" >&2; exit 2 ;;
esac

if [ "$RUNNER" = compose ]; then
  # Same chain through the containers (needs a Docker engine): one service per stage, ordered by depends_on.
  export MODEL DATASET SEEDS N PRESET TEMPERATURE MAX_TOKENS LIMIT
  exec docker compose -f compose.yaml up --build --abort-on-container-exit --exit-code-from export export
fi

# shellcheck source=scripts/common.sh
. scripts/common.sh
gen_args=(run --model "$MODEL" --dataset "$DATASET")
add_sampling_args
if [ "$MODEL" = reference ]; then
  gen_args+=(--engine replay)
else
  gen_args+=(--engine "${ENGINE:-vllm}" --preset "$PRESET")
fi
if [ -n "${SPLIT:-}" ]; then gen_args+=(--split "$SPLIT"); fi
if [ -n "${BASE_URL:-}" ]; then gen_args+=(--base-url "$BASE_URL"); fi

echo ">> generate: $MODEL on $DATASET (seeds $SEEDS)" >&2
capture_lines generated "$BIN/coderig-generate" "${gen_args[@]}"
[ ${#generated[@]} -gt 0 ] || { echo "generate published nothing" >&2; exit 1; }

scored=()
for g in "${generated[@]}"; do
  echo ">> score: $g" >&2
  scored+=("$("$BIN/coderig-score" run --generate "$g")")
done

label="$(safe_name "$MODEL")__$(safe_name "$DATASET")"
echo ">> analyze: ${#scored[@]} score output(s)" >&2
analysis=$("$BIN/coderig-analyze" run "${scored[@]}" --name "$label")
echo ">> export: fine-tuning data and workbook" >&2
# Evaluation splits are left out of fine-tuning data by default (decontamination); FINETUNE_ARGS=--include-eval-splits keeps them.
finetune=$("$BIN/coderig-export" finetune "${scored[@]}" --name "${label}__finetune" ${FINETUNE_ARGS:-})
workbook=$("$BIN/coderig-export" xlsx "${scored[@]}" --name "${label}__results")

{
  echo
  echo "coderig outputs (run store: ${CODERIG_RUNS:-runs})"
  for g in "${generated[@]}"; do echo "  generate  $g"; done
  for s in "${scored[@]}"; do echo "  score     $s"; done
  echo "  analyze   $analysis"
  echo "  export    $finetune"
  echo "  export    $workbook"
  echo "  report    $analysis/report.md"
} >&2
printf '%s\n' "${generated[@]}" "${scored[@]}" "$analysis" "$finetune" "$workbook"
