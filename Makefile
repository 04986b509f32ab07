# tern — build, run and test.  See README.md.
#
#   make            build build/tern (and the unit tests)
#   make run        install missing dependencies, build, start a demo server on loopback
#   make test       install missing dependencies, build, run every test (release and ASan+UBSan)
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#
# Sources are found by wildcard: a new .c under src/ is part of the server, a new
# tests/unit/test_*.c is a unit test, a new fuzz/fuzz_*.c is a fuzz target.

PKGS      := libevent libevent_openssl libevent_pthreads openssl sqlite3 libargon2 \
             libxcrypt inih zlib libidn2 libunbound libcurl libpsl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring -lpthread -lm

CC        ?= cc
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-unused-parameter -Wformat=2 -Wvla
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
BASEFLAGS := -DTERN_VERSION='"$(VERSION)"' -std=c11 -D_GNU_SOURCE -Isrc -g $(WARN) $(PKG_CFLAGS) -MMD -MP

# Build variants: release (build/) and sanitized (build/asan/).
BUILD_DIR ?= build
ifeq ($(SAN),1)
  B       := $(BUILD_DIR)/asan
  CFLAGS  ?= -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS ?= -fsanitize=address,undefined
else
  B       := $(BUILD_DIR)
  CFLAGS  ?= -O2 -fstack-protector-strong -D_FORTIFY_SOURCE=2
endif

SRC       := $(shell find src -name '*.c' ! -path 'src/main.c' | sort)
OBJ       := $(SRC:%.c=$(B)/obj/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)

.PHONY: all build unit run test test-unit test-e2e asan deps deps-test fuzz bench clean FORCE

all: build
build: $(B)/tern $(UNIT_BIN)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

# The objects that print the version are rebuilt when it changes.
$(B)/version.stamp: FORCE
	@mkdir -p $(B)
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@
$(B)/obj/src/main.o $(B)/obj/src/serve.o: $(B)/version.stamp

$(B)/libtern.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/tern: $(B)/obj/src/main.o $(B)/libtern.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libtern.a
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) $(LDFLAGS) -Itests/unit -o $@ $< $(B)/libtern.a -lcmocka $(PKG_LIBS)

# ---- operator entry points ------------------------------------------------

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

run: deps
	@$(MAKE) --no-print-directory build
	@scripts/run.sh

test: deps-test
	@scripts/check-clients.sh
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory build SAN=1
	@scripts/test.sh

test-unit: build
	@scripts/test.sh unit

test-e2e: build
	@scripts/test.sh e2e

asan:
	@$(MAKE) --no-print-directory build SAN=1

# ---- fuzzing (clang + libFuzzer) ------------------------------------------

FUZZ_B     := build/fuzz
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_OBJ   := $(SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=$(FUZZ_B)/%)
FUZZ_SECONDS ?= 20

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(BASEFLAGS) -Wno-unknown-warning-option $(FUZZ_FLAGS) -c $< -o $@

$(FUZZ_B)/libtern.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_B)/libtern.a
	clang $(BASEFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/libtern.a $(PKG_LIBS)

fuzz: deps-test $(FUZZ_BIN)
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: build
	@echo "benchmarks: see bench/README.md (e.g. bench/smtp-intake)"

clean:
	rm -rf build

-include $(OBJ:.o=.d) $(B)/obj/src/main.d $(FUZZ_OBJ:.o=.d)
