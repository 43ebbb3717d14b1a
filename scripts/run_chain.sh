#!/usr/bin/env bash
# The chain behind `make run`: generate -> score -> analyze -> export for one model and dataset.
# Every stage is a no-op when its output already exists, so a second identical call publishes nothing.
# Inputs (environment): MODEL DATASET SEEDS N TEMPERATURE TOP_P MAX_TOKENS MAX_MODEL_LEN LIMIT PRESET SPLIT ENGINE
# BASE_URL RUNNER SYSTEM_PROMPT CHAT_TEMPLATE FINETUNE_ARGS. A stage's failure stops the chain with that stage's exit code (see the README's table).
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
# RUNNER=compose runs each stage in its container (needs a Docker engine), with these same arguments.
prepare_runner

echo ">> generate: $MODEL on $DATASET (seeds $SEEDS)" >&2
capture_lines generated run_stage generate "${gen_args[@]}"
[ ${#generated[@]} -gt 0 ] || { echo "generate published nothing" >&2; exit 1; }

scored=()
for g in "${generated[@]}"; do
  echo ">> score: $g" >&2
  scored+=("$(run_stage score run --generate "$g")")
done

label="$(safe_name "$MODEL")__$(safe_name "$DATASET")"
echo ">> analyze: ${#scored[@]} score output(s)" >&2
analysis=$(run_stage analyze run "${scored[@]}" --name "$label")
echo ">> export: fine-tuning data and workbook" >&2
# Evaluation splits are left out of fine-tuning data by default (decontamination); FINETUNE_ARGS=--include-eval-splits keeps them.
finetune=$(run_stage export finetune "${scored[@]}" --name "${label}__finetune" ${FINETUNE_ARGS:-})
workbook=$(run_stage export xlsx "${scored[@]}" --name "${label}__results")

{
  echo
  if [ "$RUNNER" = compose ]; then where="the compose volume 'runs'"; else where=${CODERIG_RUNS:-runs}; fi
  echo "coderig outputs (run store: $where)"
  for g in "${generated[@]}"; do echo "  generate  $g"; done
  for s in "${scored[@]}"; do echo "  score     $s"; done
  echo "  analyze   $analysis"
  echo "  export    $finetune"
  echo "  export    $workbook"
  echo "  report    $analysis/report.md"
} >&2
printf '%s\n' "${generated[@]}" "${scored[@]}" "$analysis" "$finetune" "$workbook"
