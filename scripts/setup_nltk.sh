#!/usr/bin/env bash
# NLTK's punkt_tab sentence-tokenizer data for IFEval grading (coderig_score.ifeval), installed where NLTK
# looks by default: <venv>/share/nltk_data. nltk.download() cannot reach its server on machines that reach
# only the package registries, so the data comes from a registry wheel that ships it: llama-index-core
# 0.14.25 carries NLTK's punkt_tab.zip under llama_index/core/_static/nltk_cache/tokenizers/ (see
# ../shared/data/ifeval/README.md and docs/score.md). Only that one file is taken from the wheel; nothing of
# llama-index is installed. Idempotent: does nothing when the data is there.
# Usage: scripts/setup_nltk.sh [PREFIX]   (default .venv; the data goes to PREFIX/share/nltk_data, which NLTK
# searches when PREFIX is the interpreter's sys.prefix). PYTHON=... names the interpreter whose pip downloads
# the wheel (default PREFIX/bin/python); the score image runs it with its system Python (stages/score/Dockerfile).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PY=${PYTHON:-$VENV/bin/python}
DEST="$VENV/share/nltk_data/tokenizers"
WHEEL_SPEC="llama-index-core==0.14.25"
MEMBER="llama_index/core/_static/nltk_cache/tokenizers/punkt_tab.zip"
# sha256 of punkt_tab.zip (4,319,076 bytes), the same file nltk_data publishes.
PUNKT_SHA256="e57f64187974277726a3417ca6f181ec5403676c717672eef6a748a7b20e0106"

if [ -f "$DEST/punkt_tab/english/ortho_context.tab" ]; then
  exit 0
fi
echo "setup: fetching NLTK punkt_tab data from the $WHEEL_SPEC wheel (not installed; one file is extracted)" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip --disable-pip-version-check -q download "$WHEEL_SPEC" --no-deps --only-binary=:all: -d "$tmp" \
  2> >(grep -v "^WARNING: Location" >&2)
mkdir -p "$DEST"
"$PY" - "$tmp" "$DEST" "$MEMBER" "$PUNKT_SHA256" <<'PY'
import glob, hashlib, io, sys, zipfile
tmp, dest, member, want = sys.argv[1:]
wheels = glob.glob(f"{tmp}/llama_index_core-*.whl")
if len(wheels) != 1:
    sys.exit(f"setup_nltk: expected one llama_index_core wheel in {tmp}, found {wheels}")
data = zipfile.ZipFile(wheels[0]).read(member)
got = hashlib.sha256(data).hexdigest()
if got != want:
    sys.exit(f"setup_nltk: {member} has sha256 {got}, expected {want}; not installing it")
with zipfile.ZipFile(io.BytesIO(data)) as z:
    names = z.namelist()
    if any(n.startswith("/") or ".." in n.split("/") for n in names):
        sys.exit("setup_nltk: unsafe path in punkt_tab.zip")
    z.extractall(dest)
print(f"setup: NLTK punkt_tab installed in {dest} (sha256 {got[:12]}...)", file=sys.stderr)
PY
