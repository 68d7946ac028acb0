# restomarket: the single entry point for people and for CI.
# `make help` lists the targets. CI runs `make test`, exactly as a person does.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -Eeuo pipefail -c
.DEFAULT_GOAL := help

export JAVA_HOME ?= /usr/lib/jvm/temurin-25-jdk-amd64
MVN := ./mvnw -B -ntp
# The deploy engine (ships to hosts as one folder) and the tooling around it (never ships).
ENGINE := infrastructure/scripts
TOOLS := infrastructure/tools
# The engine takes its proxy image from the environment on this machine (Ansible
# writes it on hosts): the image names of infrastructure/docker/images.env, air-gapped ones when built.
ENGINE_IMAGES := set -a; source <($(TOOLS)/compose.sh --env); set +a;
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
VERSION ?= $(shell sed -n 's:^  <version>\(.*\)</version>:\1:p' apps/api/pom.xml)
BUILD_FLAGS := -Dgit.commit=$(GIT_COMMIT) -Dapp.version=$(VERSION)

# Suites that `make test` runs, in order; each is a target of its own. A group
# A+B+C runs B and C (no ports, no timing; Docker at most for throwaway
# containers of their own) while A runs: the fresh machine's build leaves cores
# idle (see infrastructure/tools/run-suites.sh). test-audit scans the image
# test-docker built.
TEST_SUITES := test-api test-api-e2e test-docker \
  test-fresh+test-engine+test-shell+tf-check+ci-check+ansible-static+test-docs+test-audit \
  test-deploy staging-rehearsal
TAG ?= $(GIT_COMMIT)
ENV ?= local
# The Ansible targets' hosts: INVENTORY=FILE, else ENV's inventory.
ANSIBLE_TARGET = $(if $(INVENTORY),--inventory $(INVENTORY),$(ENV))

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^##@ / {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-20s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Everyday
.PHONY: up
up: ## Start the local dev stack (API :3001 with hot reload, PostgreSQL, Redis, Adminer :8080)
	@$(TOOLS)/stack.sh up dev

.PHONY: down
down: ## Stop the local dev stack (data volumes are kept)
	@$(TOOLS)/stack.sh down dev

.PHONY: logs
logs: ## Follow the dev stack's logs
	@$(TOOLS)/stack.sh logs dev

.PHONY: up-staging
up-staging: ## Start the staging-like stack on :3002 with the production image (needs .env.staging)
	@$(TOOLS)/stack.sh up staging

.PHONY: down-staging
down-staging: ## Stop the staging-like stack
	@$(TOOLS)/stack.sh down staging

.PHONY: test
test: ## Run every check (format, static analysis, unit, integration, e2e, infrastructure)
	@$(TOOLS)/run-suites.sh $(TEST_SUITES)

.PHONY: run
run: services-up build ## Run the API on localhost:3000 against local PostgreSQL and Redis
	@set -a; source .run/local-services.env; set +a; \
	  LOG_FORMAT=$${LOG_FORMAT:-} exec $(JAVA_HOME)/bin/java -jar apps/api/target/restomarket-api.jar

.PHONY: build
build: ## Package the API jar as the image does, with Spring's AOT processing (skips tests)
	$(MVN) -pl apps/api -Paot package -DskipTests $(BUILD_FLAGS)

.PHONY: openapi
openapi: services-up ## Regenerate apps/api/openapi.json from the running API (commit it; test-api fails when it is stale)
	$(MVN) -pl apps/api verify -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=ApiDocumentIT \
	  -Djacoco.skip=true -Dopenapi.update=true $(BUILD_FLAGS)

.PHONY: format
format: ## Reformat Java sources (google-java-format via Spotless)
	$(MVN) -pl apps/api spotless:apply

##@ Containers
.PHONY: docker
docker: ## Make sure a Docker engine and Compose are available (installs on Debian)
	@$(TOOLS)/bootstrap/docker.sh

.PHONY: images
images: docker ## Pull the base images, or build local equivalents when no registry is reachable
	@infrastructure/docker/base-images/build.sh

.PHONY: pin-images
pin-images: ## Pin the base images of images.env (and the API Dockerfile's defaults) to their registry digests
	@$(TOOLS)/pin-images.sh

.PHONY: image
image: images ## Build the API image restomarket/api:$(TAG) (TAG defaults to the git commit)
	@$(TOOLS)/build-image.sh $(TAG)

.PHONY: bench-image
bench-image: images ## Measure cold build, one-line rebuild, size, start->healthy with/without AOT (median of BENCH_RUNS=5, alternating)
	@infrastructure/docker/bench-image.sh

##@ Deploy engine (blue/green behind HAProxy; this machine is the host for ENV=local)
.PHONY: deploy
deploy: ## Deploy restomarket/api:TAG to ENV (default local, proxy on :3003) with zero downtime
	@if [[ "$(ENV)" == local ]]; then $(TOOLS)/local-host.sh up; fi
	@$(ENGINE_IMAGES) $(ENGINE)/deploy.sh $(TAG) $(ENV)

.PHONY: rollback
rollback: ## Roll ENV back to TAG, or to the previous good release when TAG is not given
	@$(ENGINE_IMAGES) $(ENGINE)/rollback.sh --env $(ENV) $(if $(filter command line,$(origin TAG)),$(TAG),--previous)

.PHONY: releases
releases: ## List ENV's recent releases, newest first, and which one is live
	@$(ENGINE_IMAGES) $(ENGINE)/rollback.sh --env $(ENV) --list

.PHONY: local-down
local-down: ## Remove the ENV=local deployment's containers (volumes, secrets and ledger are kept)
	@$(TOOLS)/local-host.sh down

.PHONY: bench-deploy
bench-deploy: images ## Measure deploy/rollback under 200 req/s: errors, switch-window latency, wall and switch times vs targets (median of BENCH_RUNS=5)
	@$(TOOLS)/bench-deploy.sh

##@ Local services (real PostgreSQL 15 and Redis 7 on loopback)
.PHONY: services-up
services-up: ## Start local PostgreSQL (55432) and Redis (56379), installing them if needed
	@$(TOOLS)/local-services.sh start

.PHONY: services-down
services-down: ## Stop the local PostgreSQL and Redis
	@$(TOOLS)/local-services.sh stop

##@ Test suites (make test runs them all)
.PHONY: test-api
test-api: services-up ## API: format check, Error Prone, unit + integration tests, coverage gate >= 80%
	$(MVN) -pl apps/api verify $(BUILD_FLAGS)
	@echo "coverage report: apps/api/target/site/jacoco/index.html"
	@awk -F, 'NR > 1 { missed += $$8; covered += $$9 } END { printf "line coverage: %.1f%%\n", 100 * covered / (missed + covered) }' apps/api/target/site/jacoco/jacoco.csv

.PHONY: test-api-e2e
# Always rebuilt: a jar packaged without the aot profile can still hold generated
# classes of an earlier aot build (target/classes), stale for the sources it has.
test-api-e2e: services-up build ## API as a real process: health follows real server stops, SIGTERM is graceful, TLS to Redis and PostgreSQL verified
	@apps/api/e2e/test-api-process.sh

.PHONY: test-engine
test-engine: ## Deploy engine, fast: builders, lock, ledger, runtime-API errors, the probe scripts, SSH gate, with a fake docker (< 45 s)
	@$(TOOLS)/bootstrap/engine-tools.sh
	@$(ENGINE)/tests/test-engine.sh
	@$(ENGINE)/tests/test-gate.sh

.PHONY: test-shell
test-shell: ## Every shell script: bash -n, shellcheck, --help, bad input refused
	@$(TOOLS)/tests/test-shell.sh

.PHONY: test-docs
test-docs: ## Every markdown file: relative links and anchors resolve, make targets and scripts named in code exist; diagrams current
	@$(TOOLS)/tests/test-docs.sh

.PHONY: docs
docs: ## Render the architecture diagrams (infrastructure/docs/diagrams/*.mmd -> .png; installs Chromium and mermaid-cli)
	@$(TOOLS)/render-diagrams.sh

.PHONY: test-docker
test-docker: images ## Base images, the API image (user, labels, secrets, SIGTERM), dev and staging stacks, pin-images against a registry
	@infrastructure/docker/tests/test-base-images.sh
	@$(TOOLS)/build-image.sh test
	@infrastructure/docker/tests/test-api-image.sh restomarket/api:test
	@infrastructure/docker/tests/test-stacks.sh
	@$(TOOLS)/tests/test-pin-images.sh

.PHONY: test-fresh
test-fresh: images ## make up from nothing on a pristine Debian 12 machine (a container with its own Docker engine)
	@infrastructure/docker/tests/test-fresh.sh

.PHONY: test-deploy
test-deploy: images ## Deploy engine under load (deploy, rollback, failed releases, SIGKILL, locks, bad input, retention) and make deploy/releases/rollback
	@$(TOOLS)/tests/test-deploy.sh
	@$(TOOLS)/tests/test-local-deploy.sh

##@ Security audit (see infrastructure/docs/security-audit.md)
.PHONY: audit
audit: image ## Secret and configuration scanners, this machine's containers (AUDIT_CONTAINERS=FILTER: only docker ps --filter FILTER), the staging rehearsal's probes -> infrastructure/docs/security-audit.md; fails on a finding neither fixed nor accepted
	@$(TOOLS)/audit/audit.sh run --image restomarket/api:$(TAG) $(if $(AUDIT_CONTAINERS),--containers $(AUDIT_CONTAINERS))

.PHONY: test-audit
test-audit: images ## The audit's scanners on this tree and the API image (restomarket/api:test), then planted findings each check must flag
	@[[ -n "$$(/usr/bin/docker images -q restomarket/api:test)" ]] || $(TOOLS)/build-image.sh test
	@$(TOOLS)/audit/tests/test-audit.sh

##@ CI (each job of .github/workflows/ci-cd.yml, runnable here; see infrastructure/docs/ci-cd.md)
.PHONY: ci-check
ci-check: ## Prove the CI/CD config: actionlint, zizmor, yamllint, workflow tests, gitleaks, secret hook, rulesets, smoke test
	@$(TOOLS)/ci/check.sh

.PHONY: ci-quality
ci-quality: ## code-quality job: format check, Error Prone, gitleaks over history, dependency audit (GitHub only)
	@$(TOOLS)/ci/quality.sh

.PHONY: ci-test
ci-test: test-api test-api-e2e ## test job: unit + integration (coverage >= 80%) + end-to-end

.PHONY: ci-build
ci-build: build ## build job: the API jar

.PHONY: ci-image
ci-image: image ## docker-build job's image, built locally (TAG=...)

.PHONY: ci-fast
ci-fast: ## ci-quality + test-api + ci-image, then the wall time (target: 8 min with warm caches)
	@start=$$(date +%s); rc=0; \
	  $(MAKE) --no-print-directory ci-quality test-api ci-image || rc=$$?; \
	  echo "ci-fast: $$([[ $$rc -eq 0 ]] && echo passed || echo FAILED) in $$(( $$(date +%s) - start ))s"; \
	  exit $$rc

##@ Terraform (DigitalOcean)
.PHONY: tf-providers
tf-providers: ## Build the DigitalOcean provider 2.99.1 from the vendored source into the local mirror
	@infrastructure/terraform/scripts/build-provider.sh

.PHONY: tf-check
tf-check: ## fmt, checkov + trivy, validate, terraform test, offline plans, guards, backend script test
	@infrastructure/terraform/scripts/check.sh

##@ Ansible (droplet setup and rolling deploys; see infrastructure/docs/ansible.md)
.PHONY: ansible-check
ansible-check: ansible-static staging-rehearsal ## ansible-lint + syntax, inventory from Terraform, both playbooks on two Debian hosts over SSH (the staging rehearsal)

.PHONY: ansible-static
ansible-static: ## ansible-check without hosts: ansible-lint + syntax, inventory from Terraform outputs
	@infrastructure/ansible/tests/test-lint.sh
	@infrastructure/ansible/tests/test-inventory.sh

.PHONY: staging-rehearsal
staging-rehearsal: images ## Staging in a box: two Debian hosts over SSH, TLS load balancer as Terraform plans it, registry, the pipeline's steps under HTTPS load; report in .run/staging-rehearsal
	@infrastructure/ansible/tests/test-hosts.sh

.PHONY: ansible-inventory
ansible-inventory: ## Write infrastructure/ansible/inventory/ENV.yml from the Terraform outputs (ENV=dev|staging)
	@$(TOOLS)/ansible-inventory.sh $(ENV)

.PHONY: ansible-setup
ansible-setup: ## Converge setup-api.yml on ENV's droplets (FIRST_RUN=1 on fresh droplets: logs in as root)
	@$(TOOLS)/ansible.sh setup $(ENV) $(if $(VIA),--via $(VIA)) $(if $(filter 1,$(FIRST_RUN)),--first-run)

.PHONY: ansible-setup-runner
ansible-setup-runner: ## Converge setup-runner.yml on ENV's CI runner (FIRST_RUN=1 on a fresh droplet; RUNNER_TOKEN=... in the environment to register it)
	@$(if $(filter command line,$(origin RUNNER_TOKEN)),$(error RUNNER_TOKEN belongs in the environment, where ps cannot show it: RUNNER_TOKEN=... make ansible-setup-runner ENV=$(ENV)))
	@$(TOOLS)/ansible.sh setup-runner $(ENV) $(if $(VIA),--via $(VIA)) $(if $(filter 1,$(FIRST_RUN)),--first-run)

.PHONY: ansible-update
ansible-update: ## Roll TAG across ENV's droplets one at a time with update-api.yml (DIGEST=sha256:... to run exactly that image, RESTART=1 to start the live TAG again after a secret changed, LB_URL=... to check through the LB, VIA=vpc from inside the VPC, INVENTORY=FILE instead of ENV's)
	@$(TOOLS)/ansible.sh update $(ANSIBLE_TARGET) $(if $(VIA),--via $(VIA)) --tag $(TAG) $(if $(DIGEST),--digest $(DIGEST)) $(if $(filter 1,$(RESTART)),--restart) $(if $(LB_URL),--lb-url $(LB_URL))

.PHONY: ansible-rollback
ansible-rollback: ## Return all of ENV's droplets at once to TAG, a release they ran (the staging rollback; LB_URL, VIA, INVENTORY as ansible-update)
	@$(TOOLS)/ansible.sh rollback $(ANSIBLE_TARGET) $(if $(VIA),--via $(VIA)) --tag $(TAG) $(if $(LB_URL),--lb-url $(LB_URL))
