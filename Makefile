# halloc: the front door. `make bench` runs the main job, `make test` runs every test.
# Both install missing Debian packages first (make deps).

BUILD     ?= build
PYTHON    ?= /usr/bin/python3
CMAKE_GEN := -G Ninja
JOBS      ?= $(shell nproc)

# Sweep knobs (empty = allocbench's quick default). Example:
#   make bench THREADS=1..64 WORKLOADS=larson,threadtest ALLOCATORS=halloc,jemalloc REPS=5 DURATION=2
# Also: TIMEOUT=120 (seconds per child), SHARD=2/8, PARAMS="larson.slots=1000 size=16", MICRO=0,
# CHECK=0 (skip the correctness gate), VERIFY=0 (workloads do not verify their blocks).
# The leaderboard ranks by RANK_BY=throughput (default), memory or combined.
# Before/after a change: make compare A=results/<before> B=results/<after> [THRESHOLD=5%]
# SUITE=programs (real programs: redis, sqlite, ghostscript, lua, python, g++, z3, ruby) or
# SUITE=all; WORKLOADS=redis,sqlite picks programs by name too.
SUITE      ?=
THREADS    ?=
WORKLOADS  ?=
ALLOCATORS ?=
REPS       ?=
DURATION   ?=
TIMEOUT    ?=
SHARD      ?=
PARAMS     ?=
MICRO      ?=
CHECK      ?=
VERIFY     ?=
# Expanded once (and passed to sub-makes): a recursive ?= would take a new timestamp at each use.
ifeq ($(origin RUN_ID),undefined)
RUN_ID     := $(shell date -u +%Y%m%d-%H%M%S)
endif
export RUN_ID
RUN        ?= results/latest
RANK_BY    ?=
THRESHOLD  ?=

sweep_args = $(if $(SUITE),--suite $(SUITE)) $(if $(THREADS),--threads $(THREADS)) $(if $(WORKLOADS),--workloads $(WORKLOADS)) \
             $(if $(ALLOCATORS),--allocators $(ALLOCATORS)) $(if $(REPS),--reps $(REPS)) \
             $(if $(DURATION),--duration $(DURATION)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
             $(if $(SHARD),--shard $(SHARD)) $(foreach p,$(PARAMS),--param $(p)) \
             $(if $(filter 0 no off,$(MICRO)),--no-micro) \
             $(if $(filter 0 no off,$(CHECK)),--no-check) \
             $(if $(filter 0 no off,$(VERIFY)),--no-verify)

.PHONY: all deps build build-bench test test-unit test-sanitizers test-python bench \
        check-allocators instructions instructions-readme ablation ablation-table plots leaderboard paper paper-bench csv compare format clean \
        fuzz

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja: CMakeLists.txt
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Only what a sweep runs (the driver, its microbenchmarks, every halloc library): from a clean
# clone this is most of `make bench`'s time, so the tests are not built for it.
BENCH_TARGETS := allocbench allocbench-micro halloc halloc-paper halloc-serial halloc-abl-s64k \
                 halloc-abl-heaps halloc-abl-cache
build-bench: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS) --target $(BENCH_TARGETS)

test: build test-unit test-sanitizers test-python

test-unit:
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS) -LE slow
	ctest --test-dir $(BUILD) --output-on-failure -L slow

# The allocator's stress tests and the toolkit's tests again, under ThreadSanitizer and
# AddressSanitizer (tests labelled `sanitize`).
test-sanitizers: deps
	cmake -S . -B $(BUILD)-tsan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALLOC_SANITIZE=thread
	cmake --build $(BUILD)-tsan -j $(JOBS) --target sanitize_tests
	ctest --test-dir $(BUILD)-tsan --output-on-failure -L sanitize
	cmake -S . -B $(BUILD)-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALLOC_SANITIZE=address
	cmake --build $(BUILD)-asan -j $(JOBS) --target sanitize_tests
	ctest --test-dir $(BUILD)-asan --output-on-failure -L sanitize

test-python: deps
	@if [ -d analysis/tests ]; then $(PYTHON) -m pytest -q analysis/tests; \
	else echo "test-python: no analysis tests yet"; fi

# A long coverage-guided run of the allocator's fuzz target (allocator/tests/fuzz_allocator.cc)
# with libFuzzer, under AddressSanitizer and UndefinedBehaviorSanitizer: FUZZ_SECONDS per
# variant. New inputs collect in $(BUILD)-fuzz/corpus-<variant>, failing ones in
# $(BUILD)-fuzz/artifacts/; keep a minimised crasher in allocator/tests/fuzz_corpus/, where
# `make test` replays it.
FUZZ_SECONDS  ?= 600
FUZZ_VARIANTS ?= halloc
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)-fuzz $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHALLOC_FUZZ=ON
	cmake --build $(BUILD)-fuzz -j $(JOBS) --target $(addprefix fuzz_allocator_,$(FUZZ_VARIANTS))
	mkdir -p $(BUILD)-fuzz/artifacts
	set -e; for v in $(FUZZ_VARIANTS); do \
	  mkdir -p $(BUILD)-fuzz/corpus-$$v; \
	  $(BUILD)-fuzz/bin/fuzz_allocator_$$v -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -len_control=0 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)-fuzz/artifacts/$$v- \
	    $(BUILD)-fuzz/corpus-$$v allocator/tests/fuzz_corpus; \
	done

bench: build-bench
	$(BUILD)/bin/allocbench sweep $(sweep_args) --out results/$(RUN_ID)
	ln -sfn $(RUN_ID) results/latest
	$(MAKE) --no-print-directory plots paper leaderboard ablation-table csv RUN=results/$(RUN_ID)
	@echo "bench: open results/$(RUN_ID)/leaderboard.html (figures/, paper/ and results.csv beside it)"

# The correctness gate alone: `make check-allocators ALLOCATORS=halloc,s1=/path/libs1.so`
# (default: every known allocator found). Exit status 1 when any check failed.
check-allocators: build-bench
	$(BUILD)/bin/allocbench check $(subst $(comma), ,$(or $(ALLOCATORS),$(DEFAULT_CHECKED)))

# Instructions per malloc/free pair under callgrind (valgrind, from `make deps`) on fixed loops,
# for every allocator found (or ALLOCATORS=halloc,mimalloc,s1=/path/libs1.so); LOOPS=alternate,..
# picks loops, REPEATS=2 shows how exactly the counts repeat. Writes
# results/instructions-$(RUN_ID)/instructions.{json,md}. `make instructions-readme` also puts
# the table into README.md (between its `instructions:begin/end` markers).
LOOPS   ?=
REPEATS ?=
INSTRUCTIONS_OUT = results/instructions-$(RUN_ID)
instructions: build-bench
	$(BUILD)/bin/allocbench instructions $(if $(ALLOCATORS),--allocators $(ALLOCATORS)) \
	  $(if $(LOOPS),--loops $(LOOPS)) $(if $(REPEATS),--repeats $(REPEATS)) --jobs $(JOBS) \
	  --out $(INSTRUCTIONS_OUT)

instructions-readme: instructions
	$(PYTHON) scripts/replace_block.py README.md instructions $(INSTRUCTIONS_OUT)/instructions.md

comma := ,
DEFAULT_CHECKED = halloc halloc-paper halloc-serial glibc \
                   $(shell for l in jemalloc tcmalloc mimalloc tbbmalloc; do \
                     $(BUILD)/bin/allocbench list 2>/dev/null | grep -q "^  $$l *found" && echo $$l; done)

# What each of halloc's changes to the paper's policy buys (the README's ablation table): the
# steps from halloc-paper to halloc beside the peers, at 1, 2 and 4 x nproc threads, 5 reps,
# over every synthetic workload (bench's default set: issue 11's size-mix, mass-alloc and
# large-buffers included).
ABLATION_STEPS      := halloc-paper,halloc-abl-s64k,halloc-abl-heaps,halloc-abl-cache,halloc
ABLATION_ALLOCATORS := $(ABLATION_STEPS),glibc,jemalloc,tcmalloc,mimalloc,tbbmalloc
NPROC_MULTIPLES = $(shell n=$$(nproc); echo $$n,$$((2 * n)),$$((4 * n)))
ablation:
	$(MAKE) --no-print-directory bench ALLOCATORS=$(or $(ALLOCATORS),$(ABLATION_ALLOCATORS)) \
	  THREADS=$(or $(THREADS),$(NPROC_MULTIPLES)) REPS=$(or $(REPS),5) MICRO=$(or $(MICRO),0)
	@echo "ablation: see results/$(RUN_ID)/ablation.md"

ablation-table: deps
	$(PYTHON) -m analysis ablation $(RUN)

plots: deps
	$(PYTHON) -m analysis plots $(RUN)

leaderboard: deps
	$(PYTHON) -m analysis leaderboard $(RUN) $(if $(RANK_BY),--rank-by $(RANK_BY))

csv: deps
	$(PYTHON) -m analysis csv $(RUN)

# Exit status 1 when an allocator of B is significantly slower or larger than in A.
compare: deps
	@if [ -z "$(A)" ] || [ -z "$(B)" ]; then \
	  echo "usage: make compare A=results/<run> B=results/<run> [THRESHOLD=5%]" >&2; exit 2; fi
	$(PYTHON) -m analysis compare $(A) $(B) $(if $(THRESHOLD),--threshold $(THRESHOLD))

# Every figure and table of the Hoard paper's evaluation beside a run, into $(RUN)/paper/.
paper: deps
	$(PYTHON) -m analysis paper $(RUN)

# A run with everything `paper` needs, then `paper` on it: every workload (Barnes-Hut included)
# and allocator, the f = 1/8 and 1/2 variants (Tables 5, 6), the false-sharing tracer (Table 3);
# sizes kept modest (threadtest 10 rounds, prodcons 1M objects) for the traced runs.
PAPER_WORKLOADS   := threadtest,shbench,larson,cache-scratch,cache-thrash,prodcons,barnes-hut
PAPER_HALLOCS     := halloc,halloc-paper,halloc-paper-f8,halloc-paper-f2,halloc-serial
PAPER_ALLOCATORS  := $(PAPER_HALLOCS),glibc,jemalloc,tcmalloc,mimalloc,tbbmalloc
PAPER_PARAMS      ?= threadtest.iterations=10 prodcons.objects=1000000
paper-bench: build
	$(BUILD)/bin/allocbench sweep --workloads $(or $(WORKLOADS),$(PAPER_WORKLOADS)) \
	  --allocators $(or $(ALLOCATORS),$(PAPER_ALLOCATORS)) \
	  $(if $(THREADS),--threads $(THREADS)) --reps $(or $(REPS),3) \
	  $(if $(DURATION),--duration $(DURATION)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
	  $(foreach p,$(PAPER_PARAMS) $(PARAMS),--param $(p)) --trace-sharing --no-micro \
	  --out results/$(RUN_ID)
	ln -sfn $(RUN_ID) results/latest
	$(MAKE) --no-print-directory paper RUN=results/$(RUN_ID)
	@echo "paper-bench: see results/$(RUN_ID)/paper/ (paper-verdicts.md, paper-table2..6.md)"

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD)-tsan $(BUILD)-asan $(BUILD)-fuzz
