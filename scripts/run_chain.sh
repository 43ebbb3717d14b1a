#!/usr/bin/env bash
# The chain behind `make run`: generate -> score -> analyze -> export for one model and dataset.
# Every stage is a no-op when its output already exists, so a second identical call publishes nothing.
# Inputs (environment): MODEL DATASET SEEDS N TEMPERATURE TOP_P MAX_TOKENS MAX_MODEL_LEN LIMIT PRESET SPLIT ENGINE
# BASE_URL RUNNER (native, compose or ray; with ray RAY_ADDRESS and RAY_SHARDS) SYSTEM_PROMPT CHAT_TEMPLATE FINETUNE_ARGS. A stage's failure stops the chain with that stage's exit code (see the README's table).
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
  native | compose | ray) ;;
  *) echo "RUNNER=$RUNNER: unknown runner; use RUNNER=native (the default), RUNNER=compose or RUNNER=ray" >&2; exit 2 ;;
esac

# shellcheck source=scripts/common.sh
. scripts/common.sh

# The offline demos (MODEL=reference, MODEL=tiny-random) export a non-empty fine-tuning set by default, said on
# stderr and in the dataset card: evaluation splits are kept (every dataset a demo runs by default is one), and
# tiny-random, whose random weights pass nothing, takes the dataset's reference answers beside its own. Any
# FINETUNE_ARGS (e.g. FINETUNE_ARGS=--mix=balanced) replace these demo defaults: then the real rules apply.
# Sets finetune_args and demo_args (the generate arguments of the demo's reference answers, or none).
finetune_settings() {
  finetune_args=()
  demo_args=()
  if [ -n "${FINETUNE_ARGS:-}" ]; then
    read -r -a finetune_args <<<"$FINETUNE_ARGS"
  elif [ "$MODEL" = reference ] || [ "$MODEL" = tiny-random ]; then
    finetune_args=(--include-eval-splits)
    echo ">> demo: the fine-tuning set keeps evaluation splits (--include-eval-splits), which a real export leaves out;" \
      "any FINETUNE_ARGS turn the demo defaults off" >&2
    if [ "$MODEL" = tiny-random ]; then
      demo_args=(run --model reference --dataset "$DATASET" --engine replay --seeds 0 --n 1)
      if [ -n "${LIMIT:-}" ]; then demo_args+=(--limit "$LIMIT"); fi
      if [ -n "${SPLIT:-}" ]; then demo_args+=(--split "$SPLIT"); fi
      echo ">> demo: tiny-random's random weights pass (almost) nothing, so the fine-tuning set also takes the" \
        "dataset's reference answers (generate and score --model reference)" >&2
    fi
  fi
}

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

label="$(safe_name "$MODEL")__$(safe_name "$DATASET")"

# RUNNER=ray: the same chain as Ray tasks (coderig-ray, runners/ray): every (model, dataset, seed) generate, its
# score shards and merge, then analyze and the exports; local Ray unless RAY_ADDRESS names a cluster.
if [ "$RUNNER" = ray ]; then
  finetune_settings
  ray_args=(run
    --then "analyze run {scored} --name $(q "$label")"
    --then "export finetune {scored} {extra} --name $(q "${label}__finetune") $(q "${finetune_args[@]}")"
    --then "export xlsx {scored} --name $(q "${label}__results")")
  if [ ${#demo_args[@]} -gt 0 ]; then ray_args+=(--extra-generate "$(q "${demo_args[@]:1}")"); fi
  if [ -n "${RAY_SHARDS:-}" ]; then ray_args+=(--shards "$RAY_SHARDS"); fi
  echo ">> ray: $MODEL on $DATASET (seeds $SEEDS): generate, score shards, merge, analyze, export as Ray tasks" \
    "(${RAY_ADDRESS:-a local Ray instance})" >&2
  capture_lines outputs "$BIN/coderig-ray" "${ray_args[@]}" -- "${gen_args[@]:1}"
  {
    echo
    echo "coderig outputs (run store: ${CODERIG_RUNS:-runs})"
    for p in "${outputs[@]}"; do echo "  $p"; done
    echo "  report    ${outputs[${#outputs[@]}-3]}/report.md"
  } >&2
  printf '%s\n' "${outputs[@]}"
  exit 0
fi

echo ">> generate: $MODEL on $DATASET (seeds $SEEDS)" >&2
capture_lines generated run_stage generate "${gen_args[@]}"
[ ${#generated[@]} -gt 0 ] || { echo "generate published nothing" >&2; exit 1; }

scored=()
for g in "${generated[@]}"; do
  echo ">> score: $g" >&2
  scored+=("$(run_stage score run --generate "$g")")
done

finetune_settings
demo_scored=()
if [ ${#demo_args[@]} -gt 0 ]; then
  capture_lines demo_generated run_stage generate "${demo_args[@]}"
  for g in "${demo_generated[@]}"; do demo_scored+=("$(run_stage score run --generate "$g")"); done
fi

label="$(safe_name "$MODEL")__$(safe_name "$DATASET")"
echo ">> analyze: ${#scored[@]} score output(s)" >&2
analysis=$(run_stage analyze run "${scored[@]}" --name "$label")
echo ">> export: fine-tuning data and workbook" >&2
# Evaluation splits are left out of fine-tuning data by default (decontamination); FINETUNE_ARGS=--include-eval-splits keeps them.
finetune=$(run_stage export finetune "${scored[@]}" "${demo_scored[@]}" --name "${label}__finetune" "${finetune_args[@]}")
workbook=$(run_stage export xlsx "${scored[@]}" --name "${label}__results")

{
  echo
  if [ "$RUNNER" = compose ]; then where="the compose volume 'runs'"; else where=${CODERIG_RUNS:-runs}; fi
  echo "coderig outputs (run store: $where)"
  for g in "${generated[@]}"; do echo "  generate  $g"; done
  for s in "${scored[@]}"; do echo "  score     $s"; done
  for s in "${demo_scored[@]}"; do echo "  score     $s  (demo: reference answers for the fine-tuning set)"; done
  echo "  analyze   $analysis"
  echo "  export    $finetune"
  echo "  export    $workbook"
  echo "  report    $analysis/report.md"
} >&2
printf '%s\n' "${generated[@]}" "${scored[@]}" "$analysis" "$finetune" "$workbook"
