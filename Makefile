# make demo   install, then run the daemon on the tiny profile end to end
# make test   install, build the host root (real Krita/GIMP/Blender/LibreOffice), run every test
# make screenshots   the plugins' UIs in their real hosts under Xvfb, into docs/screenshots (README)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST_ROOT ?= $(or $(COCREATE_HOST_ROOT),/var/cache/cocreate/hostroot)
LLAMA_CMAKE_ARGS ?=

.PHONY: install demo test lint proto host-root bpy-venv postgresql bench screenshots

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/install_torch.sh
	$(PYTHON) -m venv $(VENV)
	scripts/install_torch.sh $(BIN)/pip
	# llama-cpp-python compiles llama.cpp here (cmake, a few minutes); for a GPU build pass e.g.
	# LLAMA_CMAKE_ARGS=-DGGML_CUDA=on, for a binary that runs on other CPUs -DGGML_NATIVE=OFF
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -e '.[test,studio]'
	# the plugins ship the client with pure-Python wheels: fetched now, so tests and builds run offline
	$(BIN)/python -m core_server.packaging.bundle build/client
	touch $@

demo: install
	$(BIN)/cocreate demo

# The real-host tests need the Debian 13 root; building it needs root (debootstrap).
host-root:
	@if [ "$$(id -u)" = 0 ]; then tests/hosts/make-root "$(HOST_ROOT)"; \
	else echo "not root: skipping the host root build; real-host tests will skip"; fi

# The Blender extension is also tested against the bpy wheel (Python 3.11, numpy<2: its own venv).
BPY_VENV := build/bpy-venv
bpy-venv: $(BPY_VENV)/.bpy-5.0.1

$(BPY_VENV)/.bpy-5.0.1:
	@if command -v python3.11 >/dev/null; then \
	  python3.11 -m venv $(BPY_VENV) && $(BPY_VENV)/bin/pip install -q bpy==5.0.1 && touch '$@'; \
	else echo "no python3.11: the bpy wheel tests will skip"; fi

# The PostgreSQL session store is tested against a throwaway server from the Debian package (tests/support/postgres.py).
postgresql:
	@if command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	  --no-install-recommends postgresql; \
	else echo "no PostgreSQL server and not root: the PostgreSQL store tests will skip"; fi

test: install host-root bpy-venv postgresql
	$(BIN)/ruff check .
	$(BIN)/pytest

# Every test marked `screenshot` (one per host) checks its picture is not blank and writes docs/screenshots/HOST.png.
screenshots: install host-root
	COCREATE_KEEP_SCREENSHOTS=1 $(BIN)/pytest -m screenshot tests/hosts

lint: install
	$(BIN)/ruff check .

proto: install
	$(BIN)/python scripts/gen_proto.py

# Each prints figures measured side by side in one run; see README "Benchmarks".
bench: install
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/transfer.py
	$(BIN)/python bench/pixels.py
	$(BIN)/python bench/text.py
