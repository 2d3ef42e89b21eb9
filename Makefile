# Quick start: `make demo` runs the main job, `make test` runs lint, types and tests.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The LoCoMo benchmark (CC BY-NC 4.0) for `make bench`: read in place, never copied into the repository.
LOCOMO ?= ../shared/data/locomo10.json

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e ".[all]" --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m nexint_core.demo

lint: $(STAMP)
	$(PY) -m ruff check nexint_core langchain_nexint llama_index_nexint nexint_bench tests benchmarks scripts
	$(PY) -m ruff format --check nexint_core langchain_nexint llama_index_nexint nexint_bench tests benchmarks scripts

typecheck: $(STAMP)
	$(PY) -m mypy --strict nexint_core langchain_nexint llama_index_nexint nexint_bench

pytest: $(STAMP)
	$(PY) -m pytest

test: lint typecheck pytest

bench: $(STAMP)
	$(PY) benchmarks/kernel.py --json docs/kernel-benchmark.json
	rm -rf .bench && mkdir .bench
	$(PY) benchmarks/swap.py --dir .bench --json docs/swap-benchmark.json
	$(PY) benchmarks/swap_reopen.py .bench/store --json docs/swap-reopen-benchmark.json
	$(PY) benchmarks/assembly.py --json docs/assembly-benchmark.json
	$(PY) benchmarks/vector_index.py --json docs/vector-index-benchmark.json
	$(PY) -m nexint_bench recall --data $(LOCOMO) --json > docs/recall-benchmark.json
	$(PY) -m nexint_bench recall --data $(LOCOMO) --protocol interleaved --json \
		> docs/recall-interleaved-benchmark.json
	$(PY) -m nexint_bench recall --data $(LOCOMO) --methods nexint-LRU,bm25,vector --embedder hashing --json \
		> docs/recall-hashing-benchmark.json
	$(PY) -m nexint_bench recall --data synthetic:facts --methods nexint-LRU,window,bm25,vector --json \
		> docs/recall-facts-benchmark.json
	$(PY) -m nexint_bench recall --data synthetic:reworded --methods nexint-LRU,window,bm25,vector --json \
		> docs/recall-reworded-benchmark.json
	$(PY) -m nexint_bench latency --json docs/latency-benchmark.json --plot docs/latency.png
	$(PY) -m nexint_bench chat --json > docs/chat-benchmark.json
	$(PY) scripts/benchmarks_md.py --locomo $(LOCOMO)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .bench
