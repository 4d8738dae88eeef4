# litestack: the README's two commands are `make up` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data

.PHONY: install up test test-deps lint unit functional integration clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# litestack, and the openstack client the README's first steps use.
install: $(BIN)/python
	$(BIN)/pip install -q -e '.[client]'
	@test -x $(BIN)/litestack && test -x $(BIN)/openstack

up: install
	$(BIN)/litestack up --data-dir $(DATA)

# Test dependencies: pip extras and the Debian packages the tests use.
test-deps: install
	$(BIN)/pip install -q -e '.[test]'
	@scripts/ensure-packages.sh
	@scripts/ensure-services.sh

lint: test-deps
	$(BIN)/ruff check litestack tests bench
	$(BIN)/mypy

test: test-deps lint
	$(BIN)/pytest -p no:cacheprovider

unit: test-deps
	$(BIN)/pytest -m unit

functional: test-deps
	$(BIN)/pytest -m functional

integration: test-deps
	$(BIN)/pytest -m integration

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
