# Shared by images.sh, run_chain.sh and the container tests (sourced): which container engine to use.
# Sets ENGINE (an array: the command and its fixed options) and ENGINE_NAME (docker or podman).
# CONTAINER_ENGINE=docker|podman forces one. Otherwise Docker when its daemon answers, else Podman.
# Podman runs with runc: crun refuses some kernels' hybrid cgroup layouts (../shared/ENVIRONMENT.md), and
# runc works everywhere Podman does; PODMAN_RUNTIME= (empty) keeps Podman's own default.
pick_engine() {
  local want=${CONTAINER_ENGINE:-}
  if [ -z "$want" ]; then
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
      want=docker
    elif command -v podman >/dev/null; then
      want=podman
    else
      echo "no container engine: neither a Docker daemon answers nor podman is installed (as root: apt-get install podman runc)" >&2
      return 1
    fi
  fi
  ENGINE_NAME=$want
  case "$want" in
    docker) ENGINE=(docker) ;;
    podman)
      ENGINE=(podman)
      local rt=${PODMAN_RUNTIME-runc}
      if [ -n "$rt" ] && command -v "$rt" >/dev/null; then ENGINE+=(--runtime "$rt"); fi
      ;;
    *) echo "CONTAINER_ENGINE=$want: use docker or podman" >&2; return 2 ;;
  esac
}
