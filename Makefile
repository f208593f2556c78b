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
DEV_REQS     := tests/requirements-dev.txt
ARTIFACT     := $(CACHE)/build/tracing-xray-$(VERSION).tar.gz
SITE_PKGS    := $(CURDIR)/$(VENV)/lib/python3.11/site-packages
# the built tarball, installed as a user installs it (ee-check, docs-lint, docsite read this, not the checkout)
INSTALLED    := $(CURDIR)/$(CACHE)/installed
INSTALLED_COLL := $(INSTALLED)/ansible_collections/tracing/xray
# amazon.aws and kubernetes.core of the pinned `ansible` package, for the tool venvs (no Galaxy here)
DEPS_PATH    := $(CURDIR)/$(CACHE)/deps-collections
IMPORTER_VENV := $(CACHE)/venv-importer
DOCS_VENV    := $(CACHE)/venv-docs
CHECKOV_VENV := $(CACHE)/venv-checkov
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help setup lint sanity unit integration molecule test demo build syntax changelog constraints \
        role-docs security install-artifact deps-collections ee-check importer docs-lint docsite package-checks \
        graphviz sandbox-build sandbox-up sandbox-down sandbox-status sandbox-test clean bench bench-smoke

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

# --- set-up -------------------------------------------------------------------------------
$(STAMP): $(DEV_REQS) constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r $(DEV_REQS) -c constraints.txt
	@touch $@

$(COLL_LINK):
	@mkdir -p $(dir $@)
	@ln -sfn $(CURDIR) $@

setup: $(STAMP) $(COLL_LINK) ## virtualenv .venv with pinned tools; checkout visible as tracing.xray

# --- checks ---------------------------------------------------------------------------------
lint: setup ## ansible-lint (production profile), yamllint, ruff, changelog fragments, role READMEs vs argument_specs, docs/bad-input.md vs the bad-input cases
	$(BIN)/yamllint --strict .
	$(BIN)/ruff check .
	$(BIN)/antsibull-changelog lint
	$(BIN)/python tools/role_readme.py --check
	$(BIN)/python tools/bad_input_table.py --check
	@# ANSIBLE_HOME inside the checkout: ansible-lint puts $$ANSIBLE_HOME/collections first, and a tracing.xray installed in
	@# ~/.ansible/collections (an older release) would shadow the checkout.
	ANSIBLE_HOME=$(CURDIR)/$(CACHE)/ansible-lint-home $(BIN)/ansible-lint --offline --profile production

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

$(CHECKOV_VENV)/.installed: tests/requirements-checkov.txt
	@rm -rf $(CHECKOV_VENV) && $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $<
	@touch $@

security: setup $(CHECKOV_VENV)/.installed ## every role's rendered manifests (no cluster) scanned by checkov; findings only as justified in tests/security/scanner-exceptions.yml
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(BIN)/pytest -q tests/security

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

test: ## everything CI runs: static checks, unit, sanity, packaging checks, then the sandbox suites (sandbox stopped at the end)
	$(MAKE) --no-print-directory lint syntax build unit bench-smoke security sanity package-checks
	@rc=0; $(MAKE) --no-print-directory integration molecule || rc=$$?; \
	  $(MAKE) --no-print-directory sandbox-down || true; exit $$rc

role-docs: setup ## rewrite the variable tables of roles/*/README.md from meta/argument_specs.yml
	$(BIN)/python tools/role_readme.py

# --- the collection as users get it: built tarball, execution environment, Galaxy import, docs ----------------
package-checks: ee-check importer docs-lint docsite ## what `make test` adds for the packaged collection

install-artifact: build ## install the built tarball into .cache/installed (as a user would)
	@rm -rf $(INSTALLED)
	ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(BIN)/ansible-galaxy collection install --force --no-deps -p $(INSTALLED) $(ARTIFACT) >/dev/null
	@# the playbooks as a user of the installed collection calls them (outside the checkout, no ansible.cfg)
	cd /tmp && env -u ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH=$(INSTALLED) $(CURDIR)/$(BIN)/ansible-playbook \
	  tracing.xray.site tracing.xray.teardown tracing.xray.verify tracing.xray.chaos --syntax-check

deps-collections: setup
	@mkdir -p $(DEPS_PATH)/ansible_collections/amazon $(DEPS_PATH)/ansible_collections/kubernetes
	@ln -sfn $(SITE_PKGS)/ansible_collections/amazon/aws $(DEPS_PATH)/ansible_collections/amazon/aws
	@ln -sfn $(SITE_PKGS)/ansible_collections/kubernetes/core $(DEPS_PATH)/ansible_collections/kubernetes/core

$(IMPORTER_VENV)/.installed: tests/requirements-importer.txt
	@rm -rf $(IMPORTER_VENV) && $(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $<
	@touch $@

$(DOCS_VENV)/.installed: tests/requirements-docs.txt
	@rm -rf $(DOCS_VENV) && $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $<
	@touch $@

ee-check: install-artifact $(IMPORTER_VENV)/.installed ## ansible-builder: render execution-environment.yml, introspect the built collection, runtime needs only
	@rm -rf $(CACHE)/ee && mkdir -p $(CACHE)/ee
	$(IMPORTER_VENV)/bin/ansible-builder create -f execution-environment.yml -c $(CACHE)/ee/context >/dev/null
	$(IMPORTER_VENV)/bin/ansible-builder introspect --write-pip $(CACHE)/ee/requirements.txt \
	  --write-bindep $(CACHE)/ee/bindep.txt $(INSTALLED)
	$(BIN)/python tools/check_ee.py $(CACHE)/ee/requirements.txt $(CACHE)/ee/bindep.txt $(CACHE)/ee/context

importer: build deps-collections $(IMPORTER_VENV)/.installed ## galaxy-importer on the built tarball, offline (ansible-doc, ansible-lint, no ansible-test), zero warnings
	@rm -rf $(CACHE)/importer && mkdir -p $(CACHE)/importer/tmp
	@# ANSIBLE_HOME inside the cache, as for `make lint`: a tracing.xray in ~/.ansible/collections shadows the tarball.
	cd $(CACHE)/importer && env -u ANSIBLE_CONFIG ANSIBLE_HOME=$(CURDIR)/$(CACHE)/importer/ansible-home \
	  GALAXY_IMPORTER_CONFIG=$(CURDIR)/tests/galaxy-importer.cfg \
	  GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=$(CURDIR)/$(CACHE)/importer/tmp PYTHONPATH=$(DEPS_PATH) \
	  PATH=$(CURDIR)/$(IMPORTER_VENV)/bin:$$PATH python -m galaxy_importer.main $(CURDIR)/$(ARTIFACT) \
	  | grep -v '^Loading ' | tee importer.log
	@if grep -Eq '^(WARNING|ERROR)' $(CACHE)/importer/importer.log; then echo "galaxy-importer reported warnings or errors" >&2; exit 1; fi
	@grep -q '^Importer processing completed successfully' $(CACHE)/importer/importer.log

DOCS_ENV = env -u ANSIBLE_CONFIG GIT_CEILING_DIRECTORIES=$(CURDIR)/$(CACHE):$(SITE_PKGS) \
  ANSIBLE_COLLECTIONS_PATH=$(INSTALLED):$(DEPS_PATH) PATH=$(CURDIR)/$(DOCS_VENV)/bin:$$PATH

docs-lint: install-artifact deps-collections $(DOCS_VENV)/.installed ## antsibull-docs lint-collection-docs --plugin-docs on the built collection
	$(DOCS_ENV) antsibull-docs lint-collection-docs --plugin-docs $(INSTALLED_COLL)

docsite: install-artifact deps-collections $(DOCS_VENV)/.installed ## build the collection docsite (antsibull-docs + Sphinx) into .cache/docsite/build/html
	@rm -rf $(CACHE)/docsite && mkdir -p $(CACHE)/docsite
	$(DOCS_ENV) antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir $(CACHE)/docsite tracing.xray >/dev/null
	@sed -i 's/ -W --keep-going$$/ --keep-going/' $(CACHE)/docsite/build.sh
	cd $(CACHE)/docsite && $(DOCS_ENV) ./build.sh >build.log 2>&1 || { tail -40 build.log; exit 1; }
	@# Offline, Sphinx cannot fetch docs.ansible.com's inventory, so labels of the Ansible docs and of other collections
	@# stay unresolved (action_plugins: the note antsibull-docs adds to a module with an action plugin, which every
	@# module of ours has); every other warning (our own references included) fails the build.
	@if grep 'WARNING' $(CACHE)/docsite/build.log | grep -v -e 'failed to reach any of the inventories' \
	    -e "undefined label: '\(common_return_values\|ansible_configuration_settings\|action_plugins\)'" \
	    -e "undefined label: 'ansible_collections\.\(amazon\|community\|kubernetes\|ansible\)\." \
	    | grep . >&2; then echo "docsite: Sphinx warnings above" >&2; exit 1; fi
	@test -f $(CACHE)/docsite/build/html/collections/tracing/xray/index.html
	@echo "docsite: $(CURDIR)/$(CACHE)/docsite/build/html/collections/tracing/xray/index.html"

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

# --- benchmark (issue 15; not part of `make test`, only its smoke is) -------------------------------------------
# `make bench` uses a kwok-only sandbox of its own on other ports (started and stopped by bench/bench.py); override
# the BENCH_SANDBOX_* variables, or set BENCH_SANDBOX_ENV= to use the SANDBOX_* environment / the default sandbox
# (a sandbox that is already up is used and left up).
BENCH_SANDBOX_DIR  ?= $(CURDIR)/.cache/bench-sandbox
BENCH_SANDBOX_ENV  ?= SANDBOX_REAL_NODES=0 SANDBOX_DIR=$(BENCH_SANDBOX_DIR) SANDBOX_CLUSTER=xray-bench \
  SANDBOX_API_PORT=26443 SANDBOX_AWS_PORT=24580 SANDBOX_DAEMON_PORT=22000 SANDBOX_WEBHOOK_PORT=29443
BENCH_RUNS         ?= 3
BENCH_ARGS         ?=

bench: setup ## benchmark site.yml/teardown.yml against the hand-run runbook on a sandbox; writes bench/results.json
	env $(BENCH_SANDBOX_ENV) BENCH_RUNS=$(BENCH_RUNS) $(BIN)/python bench/bench.py $(BENCH_ARGS)

bench-smoke: setup ## unit tests of the benchmark's result and table code (no sandbox, seconds)
	$(BIN)/pytest -q bench/test_benchlib.py
	$(BIN)/python bench/bench.py --help >/dev/null

# --- maintenance ------------------------------------------------------------------------------
changelog: setup ## release the changelog fragments into CHANGELOG.rst
	$(BIN)/antsibull-changelog release

constraints: ## regenerate constraints.txt from a clean install of tests/requirements-dev.txt
	rm -rf $(CACHE)/constraints-venv && $(PYTHON) -m venv $(CACHE)/constraints-venv
	$(CACHE)/constraints-venv/bin/pip install --quiet -r $(DEV_REQS)
	{ echo '# Full pin set for tests/requirements-dev.txt (pip freeze of a clean .venv). Regenerate with `make constraints`.'; \
	  $(CACHE)/constraints-venv/bin/pip freeze; } > constraints.txt

clean: ## remove the virtualenv and caches (not the sandbox's build cache)
	rm -rf $(VENV) $(CACHE) .pytest_cache .ruff_cache
