#!/usr/bin/env bash
# The chain behind `make category`: every model of a category over the category's datasets, each model
# loaded once (coderig-generate runs all model x dataset x seed combinations in one invocation), then
# score, one comparison analysis for the whole category, and the exports.
# Inputs (environment): CATEGORY PRESET SEEDS N TEMPERATURE TOP_P MAX_TOKENS MAX_MODEL_LEN LIMIT SYSTEM_PROMPT
# CHAT_TEMPLATE DRY_RUN CATEGORIES_FILE RUNNER (ray: as Ray tasks; anything else: native) RAY_ADDRESS RAY_SHARDS, and MODEL (comma-separated) to run the category's datasets with
# other models than its own (e.g. MODEL=reference or MODEL=tiny-random LIMIT=2 on a machine without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
if [ -z "${CATEGORY:-}" ]; then echo "set CATEGORY, e.g. make category CATEGORY=coding_specialists" >&2; exit 2; fi  # usage error
PRESET=${PRESET:-balanced}
SEEDS=${SEEDS:-0}
CATEGORIES_FILE=${CATEGORIES_FILE:-stages/generate/src/coderig_generate/registry/categories.yaml}

# shellcheck source=scripts/common.sh
. scripts/common.sh

# The category's models and datasets, from the registry file (data, not code).
capture_lines members "$BIN/python" - "$CATEGORIES_FILE" "$CATEGORY" <<'PY'
import os
import sys
import yaml
path, name = sys.argv[1], sys.argv[2]
cats = (yaml.safe_load(open(path)) or {}).get("categories", {})
if name not in cats:
    print(f"{path}:1: unknown category {name!r}; known: {', '.join(sorted(cats))}", file=sys.stderr)
    sys.exit(2)  # a usage error, as the README's exit-code table says
override = [m for m in os.environ.get("MODEL", "").split(",") if m.strip()]
for m in override or cats[name]["models"]:
    print("--model", m, sep="\n")
for d in cats[name]["datasets"]:
    print("--dataset", d, sep="\n")
PY

gen_args=(run "${members[@]}" --preset "$PRESET")
add_sampling_args

if [ -n "${DRY_RUN:-}" ] && [ "${DRY_RUN}" != 0 ]; then
  exec "$BIN/coderig-generate" "${gen_args[@]}" --dry-run
fi

# RUNNER=ray: the same chain as Ray tasks (coderig-ray, runners/ray; local Ray unless RAY_ADDRESS names a cluster):
# each model x dataset x seed a generate task with its preset's GPUs, score shards and merges, then the comparison
# analysis and the exports, in the order and with the names of the native chain below.
if [ "${RUNNER:-native}" = ray ]; then
  ray_args=(run
    --then "analyze run {scored} --category-label $(q "$CATEGORY") --name $(q "$CATEGORY")"
    --then "export xlsx {scored} --name $(q "${CATEGORY}__results")"
    --then "export finetune {scored} --name $(q "${CATEGORY}__finetune")")
  if [ -n "${RAY_SHARDS:-}" ]; then ray_args+=(--shards "$RAY_SHARDS"); fi
  echo ">> ray: category $CATEGORY (preset $PRESET, seeds $SEEDS) as Ray tasks (${RAY_ADDRESS:-a local Ray instance})" >&2
  capture_lines outputs "$BIN/coderig-ray" "${ray_args[@]}" -- "${gen_args[@]:1}"
  {
    echo
    echo "coderig outputs for category $CATEGORY (run store: ${CODERIG_RUNS:-runs})"
    echo "  comparison  ${outputs[${#outputs[@]}-3]}/analysis.json and ${outputs[${#outputs[@]}-3]}/report.md"
    echo "  workbook    ${outputs[${#outputs[@]}-2]}"
    echo "  finetune    ${outputs[${#outputs[@]}-1]}"
  } >&2
  printf '%s\n' "${outputs[@]}"
  exit 0
fi

echo ">> generate: category $CATEGORY (preset $PRESET, seeds $SEEDS)" >&2
capture_lines generated "$BIN/coderig-generate" "${gen_args[@]}"
scored=()
for g in "${generated[@]}"; do
  echo ">> score: $g" >&2
  scored+=("$("$BIN/coderig-score" run --generate "$g")")
done
echo ">> analyze: category $CATEGORY (${#scored[@]} score outputs)" >&2
# Exactly the outputs this call scored: `--category` would take the newest output of every seed of every
# pair, including older runs with other settings, while the workbook and fine-tuning data below use these.
# --category-label names the category (and the report shows the preset the generate manifests recorded).
analysis=$("$BIN/coderig-analyze" run "${scored[@]}" --category-label "$CATEGORY" --name "$CATEGORY")
workbook=$("$BIN/coderig-export" xlsx "${scored[@]}" --name "${CATEGORY}__results")
finetune=$("$BIN/coderig-export" finetune "${scored[@]}" --name "${CATEGORY}__finetune")
{
  echo
  echo "coderig outputs for category $CATEGORY (run store: ${CODERIG_RUNS:-runs})"
  echo "  comparison  $analysis/analysis.json and $analysis/report.md"
  echo "  workbook    $workbook"
  echo "  finetune    $finetune"
} >&2
printf '%s\n' "${generated[@]}" "${scored[@]}" "$analysis" "$workbook" "$finetune"
