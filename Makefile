# gofutures: build, test and try it out.
#
# Needs only Go (go.mod's version or later), a C compiler, make and CPython 3.11+
# with pip. Everything Python goes into $(VENV); gopy and goimports are built
# from the versions pinned in go.mod.
#
#   make test     install into $(VENV), then go vet + go test -race, then pytest
#   make demo     install, then run the demo
#   make bench    install with the benchmark extras, then run the benchmarks
#   make dev      editable install (python/ is imported directly)
#   make          build the extension in place (python/gofutures/_ext/)
#   make wheels   one wheel per CPython 3.11-3.13 found, repaired by auditwheel, in dist/
#   make wheel-test  each wheel in a fresh venv without Go or gcc: the parity suite
#   make sdist    the sdist, with the Go modules vendored, in dist/
#   make sdist-test  the sdist built into a wheel offline (no network, cold Go caches)

PYTHON ?= python3
VENV   ?= .venv

VPY := $(VENV)/bin/python
PIP := $(VPY) -m pip
# -P: do not put the current directory on sys.path, so that the installed
# gofutures is imported, never the sources.
VPYTEST := $(VPY) -P -m pytest
GO  ?= go
RUFF_VERSION := 0.17.6
PYBINDGEN_VERSION := 0.22.1

# Python's include directory for cgo (gofutures/pybridge includes Python.h):
# taken from the venv's interpreter if the venv exists, else from $(PYTHON).
PYINCLUDE = $$($$(test -x $(VPY) && echo $(VPY) || echo $(PYTHON)) \
	-c 'import sysconfig; print(sysconfig.get_paths()["include"])')
GOENV = CGO_ENABLED=1 CGO_CFLAGS="-I$(PYINCLUDE) $${CGO_CFLAGS:--O2 -g}"

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: all build venv install dev go-test py-test test demo bench lint clean distclean \
	wheels wheel-test sdist sdist-test

all: build

# In-place build for development: the extension lands in python/gofutures/_ext/
# for the venv's interpreter (gopy needs pybindgen importable by it).
build: venv
	$(PIP) install -q pybindgen==$(PYBINDGEN_VERSION)
	$(VPY) -m pybuild.gobuild python/gofutures/_ext

venv: $(VPY)

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# Non-editable: the tests test what users get. The dask extra too, so that
# the suite runs DaskExecutor's tests (without it they are skipped).
install: venv
	$(PIP) install '.[test,dask]'

dev: venv
	$(PIP) install -e '.[test,dask]'

go-test:
	$(GOENV) $(GO) vet ./...
	$(GOENV) $(GO) test -race -count=1 ./...

py-test:
	@$(VPY) -P -c 'import gofutures; print("testing gofutures from", gofutures.__file__)'
	$(VPYTEST)

test: install
	$(MAKE) go-test
	$(MAKE) py-test

demo: install
	$(VPY) -P -m gofutures.demo

bench: install
	$(PIP) install '.[bench]'
	$(VPY) -m benchmarks
	$(VPY) -m benchmarks.goio
	$(VPY) -m benchmarks.goio_large

# Wheels and sdist: pybuild/wheels.py (tools go into .venv-wheels).
wheels:
	$(PYTHON) -m pybuild.wheels build

wheel-test:
	$(PYTHON) -m pybuild.wheels test

sdist:
	$(PYTHON) -m pybuild.wheels sdist

sdist-test:
	$(PYTHON) -m pybuild.wheels sdist-test

lint: venv
	$(PIP) install -q ruff==$(RUFF_VERSION)
	@out="$$(gofmt -l gofutures)"; if [ -n "$$out" ]; then \
		echo "gofmt would reformat:"; echo "$$out"; exit 1; fi
	$(GOENV) $(GO) vet ./...
	$(VPY) -m ruff check setup.py $$(for d in pybuild python tests benchmarks; do test -d $$d && echo $$d; done)

clean:
	rm -rf _build build dist python/*.egg-info .pytest_cache .ruff_cache
	rm -f python/gofutures/_ext/*.so
	find python tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .venv-wheels
