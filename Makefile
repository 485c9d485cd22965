# Two commands on a fresh machine: `make serve` and `make test` (see README).
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-stamp
HOST    ?= 127.0.0.1
PORT    ?= 8001
KB       = data/kb.db
KB_INPUTS = data/sources.toml $(wildcard data/snapshots/*) $(wildcard data/history/*/*/*.md) \
            $(shell find data/guide ingest kb -name '*.md' -o -name '*.tsv' -o -name '*.py' -o -name '*.toml' 2>/dev/null)

.PHONY: install serve kb test bench fuzz browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench]'
	@# bytecode up front, as pip writes it for an installed package: every `kb` call starts without
	@# compiling (and where PYTHONDONTWRITEBYTECODE is set, would compile every time)
	$(BIN)/python -m compileall -q ingest kb
	touch $@

install: $(STAMP)

# Rebuilt only when a source page or the code that reads it is newer than the KB.
$(KB): $(STAMP) $(KB_INPUTS)
	$(BIN)/ingest build --db $(KB)

kb: $(KB)

serve: $(KB)
	$(BIN)/kb --db $(KB) serve --host $(HOST) --port $(PORT)

# Debian's Chromium for the end-to-end UI test (tests skip with a reason only where it is absent),
# and a Japanese font so the Japanese pages render as text, not boxes, in its screenshots.
browser:
	@{ command -v chromium && fc-list :lang=ja | grep -q .; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null; \
	  else echo "chromium or a Japanese font missing and not root: the browser test may be skipped"; fi; }

# Lint and types first (seconds), then the suite on every core; each step's failure fails `make test`.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q -n auto

bench: $(KB)
	$(BIN)/python -m bench

# A long fuzzing campaign (tests/fuzz_campaign.py): each reader, the snippet parser and the extractor,
# FUZZ_RUNS inputs each, with atheris when it installs (coverage-guided), else a long hypothesis run.
FUZZ_RUNS ?= 100000
fuzz: $(STAMP)
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/pip install -q 'atheris>=2.3' || \
	  echo "atheris does not install here: a long hypothesis run instead"
	$(BIN)/python -m tests.fuzz_campaign --runs $(FUZZ_RUNS)

clean:
	rm -rf $(VENV) $(KB)
