# The two commands of the README are `make run` and `make test`; the rest are
# conveniences. Tools are pinned in go.mod (go tool sqlc, go tool staticcheck).
.PHONY: run test lint generate bench fuzz ci

run:
	go run ./cmd/firebreak dev

test:
	go test -race ./...

lint:
	gofmt -l $$(git ls-files '*.go')
	go vet ./...
	go tool staticcheck ./...
	go tool sqlc diff

generate:
	go tool sqlc generate

bench:
	scripts/bench/run

fuzz:
	go test -run x -fuzz FuzzDecodeAlert -fuzztime 60s ./services/intake

ci:
	bash .ci/run
