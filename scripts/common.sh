# Shared by run_chain.sh and run_category.sh (sourced): the sampling options both pass to coderig-generate.
# Appends to the array gen_args from SEEDS N TEMPERATURE MAX_TOKENS LIMIT.
add_sampling_args() {
  gen_args+=(--seeds "${SEEDS:-0}" --n "${N:-1}")
  if [ -n "${TEMPERATURE:-}" ]; then gen_args+=(--temperature "$TEMPERATURE"); fi
  if [ -n "${MAX_TOKENS:-}" ]; then gen_args+=(--max-tokens "$MAX_TOKENS"); fi
  if [ -n "${LIMIT:-}" ]; then gen_args+=(--limit "$LIMIT"); fi
}
