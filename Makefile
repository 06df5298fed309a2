# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# onnxruntime-node's install step would download its CUDA provider; without network that fails, so skip it.
export ONNXRUNTIME_NODE_INSTALL := skip

.PHONY: install build test demo bench clean

node_modules/.installed: package.json package-lock.json
	bash scripts/install-system-deps.sh
	npm ci --no-audit --no-fund
	touch $@

install: node_modules/.installed

build: install
	npx tsc -p .

test: build
	npm test

demo: build
	bash scripts/demo.sh

bench: build
	bash bench/run.sh

clean:
	rm -rf dist node_modules/.installed
