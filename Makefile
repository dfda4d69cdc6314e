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
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" all

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
