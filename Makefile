# humstack build, test and benchmark entry points. See README.md.
GO      ?= go
BIN     := bin
FUZZTIME ?= 15s
PORT    ?= 8080
INSECURE ?= 0

.PHONY: all ui ui-deps ui-check apiserver agent humcli test unit scenario fuzz bench run demo deps clean

all: ui apiserver agent humcli

# ui builds the web console (ui/, with its npm packages pinned by
# ui/package-lock.json) into internal/ui/dist, which the apiserver embeds.
# The build is committed, so `go build` alone gives a complete apiserver;
# ui-check (part of make test) fails when the committed build is stale.
ui: ui-deps
	cd ui && node build.mjs --report

# ui-deps installs exactly the locked packages (npm's registry only; no
# package downloads anything else: playwright-core drives the system
# Chromium).
ui-deps:
	@scripts/check-node.sh
	cd ui && npm ci --no-audit --no-fund --loglevel=error

ui-check: ui
	cd ui && npm run --silent test:unit
	@git diff --quiet -- internal/ui/dist && test -z "$$(git ls-files --others --exclude-standard internal/ui/dist)" || \
		{ git status --short -- internal/ui/dist; echo 'internal/ui/dist is stale: run make ui and commit it'; exit 1; }

apiserver:
	$(GO) build -o $(BIN)/apiserver ./cmd/apiserver

# agent shows VERSION on its node (spec.agentVersion).
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
agent:
	$(GO) build -ldflags "-X github.com/humstack/humstack/internal/agent/node.Version=$(VERSION)" -o $(BIN)/agent ./cmd/agent

humcli:
	$(GO) build -o $(BIN)/humcli ./cmd/humcli

# deps installs what building and testing need on a Debian host.
deps:
	./scripts/install-deps.sh

# run installs dependencies, builds, and starts a single-node humstack (as
# root): the apiserver with its embedded store and an agent in All mode,
# state under ./run (Ctrl-C stops both), over HTTPS with RBAC and the humcli
# context "local" written; INSECURE=1 for plain HTTP without authorization.
# See scripts/single-node.sh.
run: deps all
	PORT=$(PORT) BIN=./$(BIN) INSECURE=$(INSECURE) ./scripts/single-node.sh

# demo (in a second terminal, while `make run` runs) boots a first VM on it
# from the small test image and checks that it answers ping.
demo: all
	$(GO) build -o $(BIN)/humlab ./cmd/humlab
	PORT=$(PORT) BIN=./$(BIN) ./scripts/demo.sh

# test is what CI runs: static checks, every test (race detector on), and a
# short fuzz run of each fuzz target.
test: ui-check unit scenario fuzz

# unit fails when gofmt or `go mod tidy` would change anything (tidy -diff
# prints the change and exits non-zero), then vets and tests.
unit:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	@$(GO) mod tidy -diff || { echo 'go mod tidy needed'; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m -skip '^TestReferenceScenario$$' ./...

# scenario is SPEC §6 end to end (internal/scenario), run verbosely so the
# log shows each step and its duration.
scenario:
	$(GO) test -race -count=1 -timeout 20m -v -run '^TestReferenceScenario$$' ./internal/scenario

# fuzz runs every fuzz target for FUZZTIME (scripts/fuzz.sh: a bare
# deadline at the time boundary, a Go 1.26 bug, is tried once more).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/registry FuzzDecodeValidate
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/registry FuzzEventValidate
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/registry FuzzQuotaValidate
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./api FuzzInjectResourceVersion
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./api FuzzExactKeys
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/envtemplate FuzzRender
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/envtemplate FuzzSubstitute
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./api FuzzQuantities
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/host/cloudinit FuzzUserData
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/host/cloudinit FuzzMetaData
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/host/cloudinit/iso9660 FuzzWrite
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/host/qemu FuzzArgs
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/agent FuzzConfig
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/auth FuzzConsoleLinkToken
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/auth FuzzBearer
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/auth FuzzIDTokenFront
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/pki FuzzParse
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/pki FuzzVerifyClusterInfo
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh ./internal/agent/secgroup FuzzResolveRender

# bench prints API throughput and latency (p50/p99) at concurrency 1, 8 and
# 64, a 10,000-object list, watch delivery latency to 100 watchers, and the
# store's own figures, and the time to make a disk from an image against the
# image's size (it should be flat: disks are overlays), a VM's time from
# create to QEMU running and to the guest answering ping (TCG, as root), and
# the scheduler: one decision over 1,000 nodes, and 10,000 placements on
# 1,000 nodes through the API server (placements/s, p50/p99); the reset
# queue: 100 environment copies x 10 VMs reset at once with simulated nodes;
# and environments in the lab (TCG, as root): the reset of one copy of 10
# tiny VMs, warm and cold, and stamping 5 copies x 3 VMs from a warm golden
# state, each to every VM answering ping (docs/environments.md); and the web
# console's first load: Chromium loading the sign-in page from an in-process
# API server on loopback, a fresh browser context each time (docs/ui.md).
# And the server's cost from outside (internal/loadtest): a real apiserver
# process driven over loopback, server CPU per create/update/get, lists of
# 10,000 and 100,000 VMs, RSS and high-water mark; BASELINE_REV=<git rev>
# runs the same scenarios against that revision's apiserver in the same run.
BASELINE_REV ?=
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2000x -timeout 30m ./internal/apiserver
	$(GO) test -run '^$$' -bench . -timeout 30m ./internal/storage/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./internal/controller
	$(GO) test -run '^$$' -bench BaseImage -benchtime 10x -timeout 30m ./internal/agent/storage
	$(GO) test -run '^$$' -bench VMStart -benchtime 5x -timeout 30m ./internal/agent/vm
	$(GO) test -run '^$$' -bench Decide -timeout 30m ./internal/scheduler
	$(GO) test -run '^$$' -bench 'Placement|ResetQueue' -benchtime 1x -timeout 30m ./internal/agent/core
	$(GO) test -run '^$$' -bench Env -benchtime 3x -timeout 30m ./internal/envlab
	$(GO) test -run '^$$' -bench UIFirstLoad -benchtime 10x -timeout 10m ./internal/uitest
	HUMSTACK_BASELINE_REV=$(BASELINE_REV) $(GO) test -run '^$$' -bench ServerCost -benchtime 1x -timeout 40m ./internal/loadtest

# lab-up starts a 3-node humstack lab in network namespaces on this machine
# (as root) and prints how to use humcli against it; lab-down removes it and
# everything it made. See internal/lab.
.PHONY: lab-up lab-down
lab-up: all
	$(GO) build -o $(BIN)/humlab ./cmd/humlab
	./$(BIN)/humlab up --bin $(BIN)

lab-down:
	$(GO) build -o $(BIN)/humlab ./cmd/humlab
	./$(BIN)/humlab down

clean:
	rm -rf $(BIN)
