# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# onnxruntime-node's install step would download its CUDA provider; without network that fails, so skip it.
export ONNXRUNTIME_NODE_INSTALL := skip

.PHONY: install build test demo bench bench-labels clean

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

# Label efficiency on Fashion-MNIST, 100 labels per class: labels-only, mae-finetune, no-gate and gated ssmae, three
# seeds each, two trainings at a time (~1.5 h on two cores at 12,000 steps; BENCH_PARALLEL=12 on a 16-core machine).
# The headline recipe of docs/BENCHMARKS.md: vit-micro-d2-p8-convstem32-image exported at 32×32 (the conv stem across
# the image, 8×8 patches), 12,000 steps, no shifts or flips in the weak views (--crop-pad 0, no --flip), τ 0.7, λu 2,
# all chosen on seed 0's hidden training labels, never on the test set. BENCH_METHODS=labels-only,ssmae runs the
# headline comparison alone (~1 h). Run directories go to an ignored folder named by the step count, so stopping and
# running it again resumes; the results, summary and charts are copied to bench/results/ even when some run failed
# (the exit status still says so).
BENCH_STEPS ?= 12000
BENCH_PARALLEL ?= 2
BENCH_METHODS ?= labels-only,mae-finetune,no-gate,ssmae
BENCH_LABELS_NAME := fashion-mnist-p8-stem-image-$(BENCH_STEPS)-steps
BENCH_LABELS_ART := artifacts/fashion-micro-d2-p8-convstem32-image-32
BENCH_LABELS_OUT := runs/bench-labels/$(BENCH_LABELS_NAME)
bench-labels: build
	node dist/src/cli/main.js export --preset vit-micro-d2-p8-convstem32-image --image-size 32 --channels 1 --classes 10 --out $(BENCH_LABELS_ART)
	status=0; node dist/bench/label-efficiency.js --artifacts $(BENCH_LABELS_ART) \
	    --labeled fashion-mnist:train --test fashion-mnist:test --labels-per-class 100 --val-per-class 10 \
	    --methods $(BENCH_METHODS) --seeds 0,1,2 --steps $(BENCH_STEPS) --parallel $(BENCH_PARALLEL) --threads 1 \
	    --out $(BENCH_LABELS_OUT) -- --lr 2e-3 --warmup-steps 50 --crop-pad 0 --tau 0.7 --lambda-u 2 || status=$$?; \
	  mkdir -p bench/results/$(BENCH_LABELS_NAME) && \
	  cp $(BENCH_LABELS_OUT)/results.jsonl $(BENCH_LABELS_OUT)/summary.md $(BENCH_LABELS_OUT)/*.png bench/results/$(BENCH_LABELS_NAME)/ && \
	  exit $$status

clean:
	rm -rf dist node_modules/.installed
