# returnflow: build, run and test.
#
#   make            build the five workers, rfctl and the tests' helpers
#   make run        set up (packages, private PostgreSQL under var/) and run everything
#   make test       unit + integration tests, then again under address/undefined sanitizers
#   make fuzz       every libFuzzer target for RF_FUZZ_SECONDS (default 60) each
#   make bench      end-to-end throughput/latency/memory figures (var/bench/latest.json)
#   make soak       10 minutes of load with random kill -9 of workers and PostgreSQL
#   make SANITIZE=address,undefined check   one sanitizer pass only
#   make format     clang-format every C file (.clang-format); format-check only checks
#   make lint       clang-tidy over every C file (.clang-tidy); fails on any finding
#   make compile_commands.json   the real compile commands, for editors and clang-tidy
#   make clean
#
# Layout: common/ (one folder per concern, README "Architecture") and proto/ build
# into one static library, libreturnflow.a, that every worker links. Sources include
# common's headers by folder ("bus/bus.h"). Objects go out of tree under $(BUILD);
# -MMD -MP tracks headers; generated C (migrations, the ops page) goes to $(BUILD)/gen.

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
.DEFAULT_GOAL := all

SANITIZE ?=
# Quiet build lines ("CC file"); `make V=1` shows the full commands.
Q := $(if $(V),,@)
BUILD ?= build$(if $(SANITIZE),/san,/release)

CC ?= cc
PKGS := libzmq libuv msgpack jansson libpq libcurl libcrypto
# Lazily expanded, so `make deps` can install pkg-config and the -dev packages first.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
        -Wno-missing-field-initializers -Wno-format-truncation \
        $(if $(findstring clang,$(CC)),-Wno-unknown-warning-option)
OPT := $(if $(SANITIZE),-O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all,-O2)
# FUZZ=1 (with CC=clang): coverage instrumentation for libFuzzer targets.
OPT += $(if $(FUZZ),-fsanitize=fuzzer-no-link)
CFLAGS ?=
CFLAGS += -std=c11 -g $(OPT) $(WARN)
CPPFLAGS += -D_GNU_SOURCE -Icommon -Iproto -I$(BUILD)/gen
LDFLAGS += $(if $(SANITIZE),-fsanitize=$(SANITIZE))

SERVICES := intake review warehouse refund notification

LIB := $(BUILD)/libreturnflow.a
LIB_SRC := $(wildcard common/*/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/ops_page.o

# The operations page, embedded as a C string at build time.
$(BUILD)/gen/ops_page.c: common/http/ops.html deploy/embed-page.sh
	@mkdir -p $(@D)
	$(Q)sh deploy/embed-page.sh common/http/ops.html > $@

# Each service: every .c in its folder and its subfolders (intake/feeds/), plus its
# migrations embedded as C strings. A service's files include its own headers from
# its folder's root ("intake.h", "feeds/feeds.h").
define service_rules
$(1)_SRC := $$(wildcard services/$(1)/*.c services/$(1)/*/*.c)
$(BUILD)/obj/services/$(1)/%.o: CPPFLAGS += -Iservices/$(1)
$(1)_SQL := $$(sort $$(wildcard services/$(1)/sql/*.sql))
$(1)_OBJ := $$($(1)_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/$(1)_migrations.o
$(BUILD)/gen/$(1)_migrations.c: $$($(1)_SQL) deploy/embed-sql.sh
	@mkdir -p $$(@D)
	$(Q)sh deploy/embed-sql.sh $(1) $$($(1)_SQL) > $$@
$(BUILD)/bin/rf-$(1): $$($(1)_OBJ) $(LIB)
	@mkdir -p $$(@D)
	@$(if $(Q),echo "  LINK    $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_OBJ) $(LIB) $$(PKG_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))

BINS := $(SERVICES:%=$(BUILD)/bin/rf-%)

# Tools: one folder each under tools/, every .c in it makes tools/<name> -> bin/<name>.
TOOLS := $(notdir $(wildcard tools/*))
define tool_rules
$(1)_TOBJ := $$(patsubst %.c,$(BUILD)/obj/%.o,$$(wildcard tools/$(1)/*.c))
$(BUILD)/bin/$(1): $$($(1)_TOBJ) $(LIB)
	@mkdir -p $$(@D)
	@$(if $(Q),echo "  LINK    $$@")
	$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$($(1)_TOBJ) $(LIB) $$(PKG_LIBS)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rules,$(t))))
TOOL_BINS := $(TOOLS:%=$(BUILD)/bin/%)

# Unit tests: tests/unit/test_<module>.c -> $(BUILD)/tests/test_<module>, cmocka.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# A unit test of a service's logic links that service's objects (minus main.o).
svc_objs_for = $(foreach s,$(SERVICES),$(if $(findstring test_$(s),$(1)),$(filter-out %/main.o,$($(s)_OBJ))))
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(call svc_objs_for,$*) $(LIB) $(PKG_LIBS) -lcmocka -lpthread
.SECONDEXPANSION:
$(UNIT_BINS): $$(call svc_objs_for,$$(notdir $$@))

# libFuzzer targets: tests/fuzz/fuzz_<what>.c -> $(BUILD)/fuzz/fuzz_<what> (make fuzz).
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(PKG_LIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

.PHONY: all deps build-tests run test check valgrind clean bench soak fuzz fuzz-build fuzz-smoke \
        format format-check lint static-checks
all: $(BINS) $(TOOL_BINS)
build-tests: all $(UNIT_BINS)

# Installs missing Debian packages (idempotent, quiet when all is there).
deps:
	@sh deploy/install-deps.sh

# The derived wire description of every event (committed; a unit test checks it is current).
proto/WIRE.md: $(BUILD)/bin/rf-protodoc
	$(BUILD)/bin/rf-protodoc > $@

run: deps
	@$(MAKE) --no-print-directory all
	@bash deploy/run.sh $(BUILD)

# One pass: unit tests then integration tests, against this build's binaries.
check: build-tests
	@sh tests/run-tests.sh $(BUILD)

# End-to-end throughput, latency and memory against the real pipeline
# (RF_BENCH_RATE, RF_BENCH_SECONDS, RF_BENCH_MIX, RF_BENCH_RETURNS; README "Benchmark",
# tests/bench/bench.py --help). Not part of `make test`.
bench: deps
	@$(MAKE) --no-print-directory all
	@python3 tests/bench/bench.py

# Open-loop load for RF_SOAK_SECONDS (default 600) with random kill -9 of workers
# and of PostgreSQL, then the exactly-once check (tests/soak/soak.py; RF_SOAK_RATE
# returns/s, default 4). Not part of `make test`.
soak: deps
	@$(MAKE) --no-print-directory all
	@RF_BUILD=$(abspath $(BUILD)) python3 tests/soak/soak.py

# Each libFuzzer target for RF_FUZZ_SECONDS (default 60) from its seed corpus
# in tests/fuzz/corpus/<target>/, built with clang and address/undefined
# sanitizers; a crash's input is kept under build/fuzz/crashes/.
fuzz-build: $(FUZZ_BINS)
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang SANITIZE=address,undefined FUZZ=1 fuzz-build
	@sh tests/fuzz/run.sh build/fuzz $${RF_FUZZ_SECONDS:-60}
# The short pass `make test` runs: 30 s per target.
fuzz-smoke:
	@RF_FUZZ_SECONDS=30 $(MAKE) --no-print-directory fuzz

# Formatting and lint, over every C file of the tree (tests included).
C_FILES = $(shell find common services tools tests proto -name node_modules -prune -o -name '*.[ch]' -print | sort)
format:
	$(Q)clang-format -i $(C_FILES)
format-check:
	$(Q)clang-format --dry-run --Werror $(C_FILES)

# compile_commands.json: every compile command of a full build, recorded by bear in
# a build of its own (build/cc), so clang-tidy and editors see the real flags.
compile_commands.json: Makefile $(wildcard common/*/*.c services/*/*.c services/*/*/*.c tools/*/*.c tests/unit/*.c)
	$(Q)rm -rf build/cc
	$(Q)bear --output $@ -- $(MAKE) --no-print-directory BUILD=build/cc -j2 all build-tests >/dev/null

# clang-tidy with the checks of .clang-tidy, every finding an error. The tests'
# sources are left out (cmocka's macros), the libFuzzer targets are built with clang.
LINT_FILES = $(shell find common services tools -name '*.c' | sort)
lint: compile_commands.json
	@mkdir -p build
	$(Q)printf '%s\n' $(LINT_FILES) | xargs -P2 -n4 clang-tidy -p . --quiet \
	    --extra-arg=-Wno-unknown-warning-option >build/lint.txt 2>&1; \
	grep -v -e '^[0-9]* warnings* \(and [0-9]* errors* \)*generated\.$$' \
	    -e '^Error while processing' build/lint.txt >build/lint-findings.txt; \
	if [ -s build/lint-findings.txt ]; then cat build/lint-findings.txt; \
	    echo "lint: $$(grep -c ': error: ' build/lint-findings.txt) findings (.clang-tidy)"; exit 1; fi; \
	echo "lint: clean, $(words $(LINT_FILES)) files"

# Format and lint as two tests with results in build/static (make test counts them).
static-checks:
	@sh tests/static-checks.sh build/static

# The unit tests under valgrind's memcheck (the plain build).
valgrind: build-tests
	@RF_VALGRIND=1 sh tests/run-tests.sh $(BUILD)

# The whole suite, as CI runs it: format and lint, the plain build's tests, its unit tests under
# valgrind, the sanitizer build's tests, a short pass of every fuzzer, then one
# summary line for all of them. With SANITIZE=... given, just that build's pass.
ifeq ($(SANITIZE),)
test: deps
	@rm -f build/release/test-results.txt build/release/valgrind-results.txt build/san/test-results.txt \
	    build/fuzz/fuzz/results.txt build/static/test-results.txt
	@status=0; \
	$(MAKE) --no-print-directory static-checks || status=1; \
	$(MAKE) --no-print-directory check || status=1; \
	$(MAKE) --no-print-directory valgrind || status=1; \
	$(MAKE) --no-print-directory SANITIZE=address,undefined check || status=1; \
	$(MAKE) --no-print-directory fuzz-smoke || status=1; \
	sh tests/summary.sh build/static build/release build/release/valgrind-results.txt build/san \
	    build/fuzz/fuzz/results.txt || status=1; \
	exit $$status
else
test: deps
	@$(MAKE) --no-print-directory check
endif

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
