#!/bin/sh
# coderig-install-stage DIR...: how every coderig image installs its local packages (copied into the build under
# /src): into the image's Python with pip (PIP_* settings from coderig/base: no cache, system packages
# allowed), their own dependencies as bounded in each pyproject.toml (local packages: no PyPI version to pin);
# then the copied sources go. images/base/Dockerfile puts it on PATH and installs the contract with it; each
# stage Dockerfile installs its package with it.
set -eu
python3 -m pip install "$@"
rm -rf /src
