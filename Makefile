# coopnet — make demo starts a three-region demo coop; make test runs every check.
GO      ?= go
PKGS    := ./...
BENCH   ?= .
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build demo test lint vet fmt tidy-check bench screenshots clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o bin/coopnet ./cmd/coopnet

## demo: a three-region coop on SQLite with sample data (Ctrl-C to stop)
demo: build
	./bin/coopnet demo --data-dir ./data/demo

## test: vet, then every test with the race detector (CI=true: nothing may skip)
test: vet
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

vet:
	$(GO) vet $(PKGS)

## lint: vet, gofmt and go mod tidy must be clean; no binary or file over 1 MB tracked
lint: vet
	@.ci/tracked-files
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go mod tidy would change go.mod/go.sum (above)"; exit 1; }

## bench: the performance benchmarks (PostgreSQL on 127.0.0.1:5432 or COOPNET_TEST_POSTGRES_URL)
bench:
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime 1x -count 1 -timeout 30m ./cmd/coopnet/ ./services/routing/ ./services/redact/ ./services/members/ ./services/notify/

## screenshots: the README's screenshots of the three journeys, taken by the browser test (needs Chromium)
SHOTS := 1-jean-4-request 1-jean-5-forwarded 2-marie-0-told-live 2-marie-1-offers 2-marie-3-photo 1-jean-7-filtered 3-claire-1-dashboard 1-jean-7-phone
screenshots:
	rm -rf .artifacts/readme
	COOPNET_ARTIFACTS=$(CURDIR)/.artifacts/readme CI=true $(GO) test -count=1 -run '^TestBrowserJourneys$$' ./cmd/coopnet/
	mkdir -p webui/docs/screenshots
	for f in $(SHOTS); do cp .artifacts/readme/$$f.png webui/docs/screenshots/$$f.png; done

clean:
	rm -rf bin data
