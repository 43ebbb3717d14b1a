# coderig: the two commands are `make run MODEL=...` and `make test`; both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.coderig-setup
PKGS   := schemas/pyproject.toml $(wildcard stages/*/pyproject.toml) $(wildcard runners/*/pyproject.toml)
export CODERIG_RUNS ?= $(CURDIR)/runs
export CODERIG_CACHE ?= $(CURDIR)/.cache
export CODERIG_SHARED_DATA ?= $(abspath $(CURDIR)/../shared/data)
# Local copies of the public benchmarks, when present (tests and offline demos); otherwise datasets load from the hub.
ifneq ($(wildcard $(CODERIG_SHARED_DATA)/HumanEval.jsonl.gz),)
export CODERIG_DATA_DIR ?= $(CODERIG_SHARED_DATA)
endif

# make run knobs (see README): MODEL is required.
export MODEL DATASET SEEDS N TEMPERATURE TOP_P MAX_TOKENS MAX_MODEL_LEN CHAT_TEMPLATE LIMIT PRESET SPLIT ENGINE BASE_URL RUNNER \
  CATEGORY DRY_RUN FINETUNE_ARGS
# SYSTEM_PROMPT only when given (an empty SYSTEM_PROMPT= means "no system message", unset means "the template's")
ifneq ($(origin SYSTEM_PROMPT),undefined)
export SYSTEM_PROMPT
endif

.PHONY: images help setup test test-fast lint typecheck schemas schemas-publish schemas-check pytest clean-venv run category tiny-model serve-tiny bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install every package (idempotent)

$(STAMP): $(PKGS) requirements-dev.txt scripts/setup.sh
	@scripts/setup.sh
	@touch $@

schemas: $(STAMP) ## regenerate the JSON Schema files from the pydantic models
	$(PY) -m coderig_schemas.jsonschema_gen schemas/json

schemas-publish: $(STAMP) ## record the current schema files as published (never to be edited again)
	$(PY) -m coderig_schemas.jsonschema_gen schemas/json --publish

schemas-check: $(STAMP) ## fail if a JSON Schema file drifted from its model
	$(PY) -m coderig_schemas.jsonschema_gen schemas/json --check

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check schemas stages runners tests bench scripts examples

typecheck: $(STAMP) ## mypy: the contract package strict, the four stages and the runners with the defaults
	$(VENV)/bin/mypy schemas/src/coderig_schemas $(patsubst %/__init__.py,%,$(wildcard stages/*/src/coderig_*/__init__.py runners/*/src/coderig_*/__init__.py))

pytest: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

test: setup lint schemas-check typecheck pytest ## setup, ruff, schemas-check, mypy, pytest

test-fast: $(STAMP) ## tests/unit only: the pure, fast tier (no sandbox, engine, container or network), well under a minute
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

run: $(STAMP) ## the whole chain for one model: make run MODEL=tiny-random [DATASET= SEEDS= N= LIMIT= ...]
	@scripts/run_chain.sh

category: $(STAMP) ## every model of a category: make category CATEGORY=coding_specialists [DRY_RUN=1]
	@scripts/run_category.sh

tiny-model: $(STAMP) ## build the tiny random-weight model into $(CODERIG_CACHE)/models/tiny-random
	$(PY) -c "from coderig_generate.models import resolve_model; print(resolve_model('tiny-random').hf_id)"

serve-tiny: tiny-model ## an OpenAI-compatible vLLM server of tiny-random on 127.0.0.1:8000 (CPU settings)
	VLLM_CPU_KVCACHE_SPACE=1 OMP_NUM_THREADS=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 $(PY) -m vllm.entrypoints.openai.api_server \
	  --model $(CODERIG_CACHE)/models/tiny-random --served-model-name tiny-random --host 127.0.0.1 --port 8000 \
	  --dtype float32 --max-model-len 8192 --enforce-eager --no-enable-chunked-prefill --generation-config vllm

bench: $(STAMP) ## every benchmark under bench/ (figures go to docs/benchmarks.md)
	$(PY) bench/score_bench.py
	$(PY) bench/score_load_bench.py
	$(PY) bench/score_evalplus_bench.py
	$(PY) bench/generate_bench.py
	$(PY) bench/analyze_bench.py
	$(PY) bench/export_bench.py
	$(PY) bench/math_bench.py --without-dedup
	$(PY) bench/ifeval_agreement.py

clean-venv: ## remove .venv (the next target re-creates it)
	rm -rf $(VENV)

images: ## build the four stage images (Docker if a daemon answers, else Podman; a Debian base where pulls fail)
	@scripts/images.sh
