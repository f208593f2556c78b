# tracing.xray — developer and CI entry points. `make help` lists them.
# Every target installs what it needs itself (pinned), so a fresh clone needs nothing else.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
PYTHON       ?= python3
VENV         := .venv
BIN          := $(VENV)/bin
CACHE        := .cache
COLL_LINK    := $(CACHE)/collections/ansible_collections/tracing/xray
SANITY_ROOT  := $(CURDIR)/$(CACHE)/sanity/ansible_collections/tracing/xray
GET_PIP      := $(HOME)/.ansible/test/cache/get_pip_24_2.py
STAMP        := $(VENV)/.installed
VERSION      := $(shell sed -n 's/^version: *//p' galaxy.yml)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup lint sanity unit integration molecule test demo build syntax changelog constraints \
        graphviz sandbox-build sandbox-up sandbox-down sandbox-status sandbox-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

# --- set-up -------------------------------------------------------------------------------
$(STAMP): requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	@touch $@

$(COLL_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn $(CURDIR) $@

setup: $(STAMP) $(COLL_LINK) ## virtualenv .venv with pinned tools; checkout visible as tracing.xray

# --- checks ---------------------------------------------------------------------------------
lint: setup ## ansible-lint (production profile), yamllint, ruff, changelog fragments
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/antsibull-changelog lint
	$(BIN)/ansible-lint --offline --profile production

$(GET_PIP): tools/get_pip_offline.py
	@mkdir -p $(dir $@)
	@cp $< $@

sanity: setup $(GET_PIP) ## ansible-test sanity on the built collection, no ignore file
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	$(BIN)/ansible-galaxy collection build --force --output-path $(CACHE)/build . >/dev/null
	tar -xzf $(CACHE)/build/tracing-xray-$(VERSION).tar.gz -C $(SANITY_ROOT)
	@for c in amazon/aws kubernetes/core; do mkdir -p $(CACHE)/sanity/ansible_collections/$${c%/*}; \
	  ln -sfn $(CURDIR)/$(BIN)/../lib/python3.11/site-packages/ansible_collections/$$c $(CACHE)/sanity/ansible_collections/$$c; done
	cd $(SANITY_ROOT) && git init -q . && git add -A && \
	  $(CURDIR)/$(BIN)/ansible-test sanity --local --python 3.11 --requirements --color no

unit: setup ## pytest unit tests (modules, module_utils, sandbox emulation)
	$(BIN)/pytest -q tests/unit tests/tools

graphviz: ## Graphviz's dot, for the service map picture (apt-get when missing)
	@command -v dot >/dev/null 2>&1 || apt-get install -y -q graphviz >/dev/null || \
	  { apt-get update -q >/dev/null && apt-get install -y -q graphviz >/dev/null; }

integration: setup graphviz sandbox-up ## tests against the sandbox (starts it, leaves it up)
	$(BIN)/pytest -q tests/integration

molecule: setup ## molecule scenario "default" on the sandbox: check mode, converge, idempotence, verify, chaos, teardown
	SANDBOX_DIR=$${SANDBOX_DIR:-$(CURDIR)/.sandbox} $(BIN)/molecule test -s default

syntax: setup ## playbook syntax check from the checkout
	$(BIN)/ansible-playbook site.yml teardown.yml playbooks/chaos.yml playbooks/verify.yml --syntax-check

build: setup ## build the collection tarball into .cache/build and check what it holds
	$(BIN)/ansible-galaxy collection build --force --output-path $(CACHE)/build .
	$(BIN)/python tools/check_artifact.py $(CACHE)/build/tracing-xray-$(VERSION).tar.gz

test: ## everything CI runs: static checks, unit, sanity, then the sandbox suites (sandbox stopped at the end)
	$(MAKE) --no-print-directory lint syntax build unit sanity
	@rc=0; $(MAKE) --no-print-directory integration molecule || rc=$$?; \
	  $(MAKE) --no-print-directory sandbox-down || true; exit $$rc

# --- sandbox and demo -------------------------------------------------------------------------
SANDBOX_PY := $(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) sandbox/sandbox.py

sandbox-build: setup ## build the sandbox's Go binaries into ~/.cache/tracing-xray (once per machine, ~10 min cold)
	$(BIN)/python sandbox/sandbox.py build

sandbox-up: setup ## start the local sandbox: Kubernetes API + kwok nodes, AWS endpoint, X-Ray daemon
	$(BIN)/python sandbox/sandbox.py up

sandbox-down: ## stop the local sandbox and check nothing of it is left
	$(SANDBOX_PY) down

sandbox-status: ## nodes, endpoints, versions and pids of the local sandbox (exit 1 when not healthy)
	$(SANDBOX_PY) status

sandbox-test: setup sandbox-up ## the sandbox's own integration tests (leaves it up)
	$(BIN)/pytest -q tests/integration/sandbox

demo: setup graphviz sandbox-up ## sandbox up, site.yml against it, traffic from pods (or local processes), then the service table and map
	$(BIN)/ansible-playbook site.yml
	@start=$$(date +%s); \
	  if $(BIN)/python -c 'import json,os,sys; d=os.environ.get("SANDBOX_DIR") or ".sandbox"; sys.exit(0 if json.load(open(d+"/sandbox.json")).get("real_nodes") else 1)'; then \
	    echo "traffic: a load generator pod on the real node -> front pods -> back pods; segments to the daemon pod"; \
	    $(BIN)/python sandbox/traffic.py --count 300 --rate 20; \
	  else \
	    echo "traffic: no real node (SANDBOX_REAL_NODES=0): local front and back processes, the host daemon"; \
	    PYTHONPATH=apps/sample $(BIN)/python -m xray_sample.local demo --count 300 --rate 20 --work-ms 20; \
	  fi; \
	  $(BIN)/ansible-playbook playbooks/verify.yml -e verify_start_time=$$((start - 1))
	@cat out/verify/xray-sandbox-services.txt
	@echo "service map: $(CURDIR)/out/verify/xray-sandbox-service-map.png (and .svg)"

# --- maintenance ------------------------------------------------------------------------------
changelog: setup ## release the changelog fragments into CHANGELOG.rst
	$(BIN)/antsibull-changelog release

constraints: ## regenerate constraints.txt from a clean install of requirements.txt
	rm -rf $(CACHE)/constraints-venv && $(PYTHON) -m venv $(CACHE)/constraints-venv
	$(CACHE)/constraints-venv/bin/pip install --quiet -r requirements.txt
	{ echo '# Full pin set for requirements.txt (pip freeze of a clean .venv). Regenerate with `make constraints`.'; \
	  $(CACHE)/constraints-venv/bin/pip freeze; } > constraints.txt

clean: ## remove the virtualenv and caches (not the sandbox's build cache)
	rm -rf $(VENV) $(CACHE) .pytest_cache .ruff_cache
