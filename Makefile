# alim — build, test and benchmark.
#
#   make report   install Debian packages if missing, build, run the main job on defaults:
#                 the HTML report in alim-report/ (README's first command)
#   make demo     the same install and build, then the bottleneck's predictions as tables
#   make test     install, build (normal + ASan/UBSan), run every test; last line "N passed, N failed"
#   make          build build/alim and build/libalim.a
#   make bench    run the benchmarks in bench/ (alim vs the competitor, ratios printed)
#   make interop  check LM checkpoints/tokenizers against PyPI transformers/tokenizers
#
# Sources are found by wildcard: a new module is a new src/<layer>/*.c (+ include/alim/*.h),
# a new command a new cli/cmd_*.c plus one line in cli/commands.def, a new test tests/test_*.c.

CC       ?= gcc
BUILD    ?= build
PKGS     := libcjson openblas plplot libpcre2-8 libutf8proc
# No -ffast-math anywhere: infinities, NaN and log 0 carry meaning here.
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fopenmp -fno-fast-math \
             -Iinclude $(shell pkg-config --cflags $(PKGS)) $(CFLAGS) $(SANFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -fopenmp -lm

LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: reproduce all deps test check report demo bench interop asan clean
all: $(BUILD)/alim $(BUILD)/libalim.a $(TEST_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# AdamW's update loop vectorises only without errno for sqrtf (its argument is never
# negative); the optimize pragma/attribute did not reach the target clones.
$(BUILD)/src/lm/optim.o: ALL_CFLAGS += -fno-math-errno

$(BUILD)/libalim.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/alim: $(CLI_OBJ) $(BUILD)/libalim.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libalim.a $(LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/check.h $(BUILD)/libalim.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -o $@ $< $(BUILD)/libalim.a $(LDLIBS)

# The same library, CLI and tests built with AddressSanitizer + UBSan into build-asan/.
# float-cast-overflow is not part of -fsanitize=undefined: an out-of-range double -> integer
# conversion (undefined behaviour, different results under gcc and clang) stops the program.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow" all

# libFuzzer harnesses fuzz/fuzz_*.c, one per input parser, with clang (Debian's clang and
# libclang-rt): the library is compiled into $(FUZZ_BUILD) with ASan + UBSan and fuzzer
# coverage, each harness is linked with -fsanitize=fuzzer. `make fuzz` runs every harness for
# FUZZ_TIME seconds from its committed seeds fuzz/corpus/<harness>/ (binary seeds as hex text,
# decoded by fuzz/seeds.sh; new inputs go to
# $(FUZZ_BUILD)/corpus/<harness>/, crashes to $(FUZZ_BUILD)/crash-<harness>-*); FUZZ_JOBS
# harnesses at a time. tests/cli/test_fuzz_smoke.sh runs a short smoke of each.
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_TIME  ?= 60
FUZZ_JOBS  ?= 1
FUZZ_SAN   := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer
FUZZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
.PHONY: fuzz fuzz-build

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
	  SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_BUILD)/libalim.a
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Ifuzz -o $@ $< $(FUZZ_BUILD)/libalim.a $(LDLIBS)

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	@fuzz/seeds.sh $(FUZZ_BUILD)/seeds
	@printf '%s\n' $(FUZZ_BIN) | xargs -P $(FUZZ_JOBS) -I{} sh -c 'h=$$(basename {}); mkdir -p $(FUZZ_BUILD)/corpus/$$h; \
	  {} -max_total_time=$(FUZZ_TIME) -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$h- \
	     $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/seeds/$$h > $(FUZZ_BUILD)/$$h.log 2>&1; rc=$$?; \
	  printf "%-28s exit %d, %s executions\n" $$h $$rc "$$(sed -n "s/^stat::number_of_executed_units: *//p" $(FUZZ_BUILD)/$$h.log)"; \
	  [ $$rc -eq 0 ]'

deps:
	@scripts/install-deps.sh

# `make test` is what .ci/run calls and what the README's second command runs.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan
	@scripts/run-tests.sh

check: test

# The main job on built-in defaults (the README's first command).
report: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/alim report --out alim-report

demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/alim bottleneck-demo

# The elasticity experiments E0-E4 at the spec's small scale (docs/results.md); resumable.
reproduce: deps
	@$(MAKE) --no-print-directory all
	scripts/reproduce.sh $(if $(OUT),$(OUT),runs/reproduce)

bench: deps all
	@scripts/run-benchmarks.sh

# Hugging Face interoperability of LM checkpoints and tokenizers: PyPI transformers,
# safetensors and tokenizers in a venv (downloads packages; not part of `make test`).
interop: all
	ALIM_INTEROP=1 bench/bench_lm_interop.sh

clean:
	rm -rf build build-asan alim-report

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
