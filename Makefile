# oxistore — plain Makefile. `make` builds, `make test` installs what is missing, builds
# the tests with AddressSanitizer + UndefinedBehaviorSanitizer and runs them all.

CC        ?= cc
CLANG     ?= clang
OPT       ?= -O2 -g
WARN      := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Werror
CPPFLAGS  += -D_GNU_SOURCE -Ilib -Iproto -Iconf -Ikeyspace
LDLIBS    := -llmdb -pthread
SANITIZE  ?= address,undefined
SANFLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60

B   := build/rel
S   := build/san

LIB_SRC    := $(wildcard lib/*.c)
PROTO_SRC  := $(wildcard proto/*.c)
CONF_SRC   := $(wildcard conf/*.c)
KEYSPACE_SRC := $(wildcard keyspace/*.c)
SERVER_SRC := $(wildcard server/*.c)
TOOL_SRC   := $(wildcard tools/*.c)

LIB_TESTS    := $(patsubst %.c,$(S)/%,$(wildcard tests/lib/test_*.c))
PROTO_TESTS  := $(patsubst %.c,$(S)/%,$(wildcard tests/proto/test_*.c))
CONF_TESTS   := $(patsubst %.c,$(S)/%,$(wildcard tests/conf/test_*.c))
KS_TESTS     := $(patsubst %.c,$(S)/%,$(wildcard tests/keyspace/test_*.c))
SERVER_TESTS := $(patsubst %.c,$(S)/%,$(wildcard tests/server/test_*.c))
TOOL_TESTS   := $(patsubst %.c,$(S)/%,$(wildcard tests/tools/test_*.c))
TESTS        := $(LIB_TESTS) $(PROTO_TESTS) $(CONF_TESTS) $(KS_TESTS) $(SERVER_TESTS) $(TOOL_TESTS)
# Shell tests: run as they are, they build what they need themselves.
SHELL_TESTS  := $(wildcard tests/*/test_*.sh)

.PHONY: all deps test test-build test-docker run bench bench-quick bench-lib bench-proto fuzz fuzz-build difftest clean
all: $(B)/liboxistore.a $(B)/libresp.a $(if $(SERVER_SRC),$(B)/oxistore-server) \
     $(if $(TOOL_SRC),$(B)/oxistore-check)

deps:
	@scripts/deps.sh

# ---- objects and libraries (release and sanitized flavours) -----------------------
$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -MMD -MP -c $< -o $@
$(S)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

$(B)/liboxistore.a: $(LIB_SRC:%.c=$(B)/%.o)
	$(AR) rcs $@ $^
$(S)/liboxistore.a: $(LIB_SRC:%.c=$(S)/%.o)
	$(AR) rcs $@ $^
# keyspace/: what the server and oxistore-check both know of the stored keyspace.
$(B)/libkeyspace.a: $(KEYSPACE_SRC:%.c=$(B)/%.o)
	$(AR) rcs $@ $^
$(S)/libkeyspace.a: $(KEYSPACE_SRC:%.c=$(S)/%.o)
	$(AR) rcs $@ $^
$(B)/libresp.a: $(PROTO_SRC:%.c=$(B)/%.o)
	$(AR) rcs $@ $^
$(S)/libresp.a: $(PROTO_SRC:%.c=$(S)/%.o)
	$(AR) rcs $@ $^

# ---- tests ---------------------------------------------------------------------------
$(S)/tests/lib/%: tests/lib/%.c tests/test.h $(S)/liboxistore.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -MMD -MP $< -o $@ $(S)/liboxistore.a $(LDLIBS)
$(S)/tests/keyspace/%: tests/keyspace/%.c tests/test.h $(S)/libkeyspace.a $(S)/liboxistore.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -MMD -MP $< -o $@ \
	  $(S)/libkeyspace.a $(S)/liboxistore.a $(LDLIBS)
$(S)/tests/proto/%: tests/proto/%.c tests/test.h $(S)/libresp.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -MMD -MP $< -o $@ $(S)/libresp.a $(LDLIBS)

$(S)/tests/conf/%: tests/conf/%.c tests/test.h $(CONF_SRC:%.c=$(S)/%.o) $(S)/libresp.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -MMD -MP $< -o $@ $(CONF_SRC:%.c=$(S)/%.o) $(S)/libresp.a $(LDLIBS)

test-build: $(TESTS)

test: deps
	@$(MAKE) --no-print-directory test-build fuzz-build
	@scripts/run-tests.sh $(TESTS) $(SHELL_TESTS) scripts/fuzz-run.sh

# The Dockerfile's build stage run on this host, and its runtime stage checked (no Docker
# engine needed: tests/docker/test_dockerfile.sh says what it covers).
test-docker: deps
	@scripts/run-tests.sh tests/docker/test_dockerfile.sh

# ---- fuzzing (clang libFuzzer) ---------------------------------------------------------
build/fuzz/fuzz_resp: tests/fuzz/fuzz_resp.c $(PROTO_SRC) $(wildcard proto/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined $(CPPFLAGS) -Itests -MMD -MP $< $(PROTO_SRC) -o $@
fuzz-build: $(if $(wildcard tests/fuzz/fuzz_resp.c),build/fuzz/fuzz_resp)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-run.sh

# ---- server ------------------------------------------------------------------------------
# Lua 5.1 and the cjson and bit libraries scripts get, from Debian's packages.
SERVER_LIBS := -levent -levent_pthreads -llua5.1-cjson -llua5.1-bitop -llua5.1 -lm
LUA_CPPFLAGS := -I/usr/include/lua5.1
$(B)/server/%.o $(S)/server/%.o: CPPFLAGS += $(LUA_CPPFLAGS)
$(B)/oxistore-server: $(SERVER_SRC:%.c=$(B)/%.o) $(CONF_SRC:%.c=$(B)/%.o) $(B)/libkeyspace.a $(B)/libresp.a $(B)/liboxistore.a
	$(CC) $(OPT) $^ -o $@ $(LDLIBS) $(SERVER_LIBS)
$(S)/oxistore-server: $(SERVER_SRC:%.c=$(S)/%.o) $(CONF_SRC:%.c=$(S)/%.o) $(S)/libkeyspace.a $(S)/libresp.a $(S)/liboxistore.a
	$(CC) $(OPT) $(SANFLAGS) $^ -o $@ $(LDLIBS) $(SERVER_LIBS)

# Server tests drive the sanitized server binary with hiredis (and redis-cli, redis-server).
$(S)/tests/server/%: tests/server/%.c tests/test.h $(S)/oxistore-server
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -MMD -MP \
	  -DOX_SERVER_BIN='"$(abspath $(S)/oxistore-server)"' -DOX_SRC_DIR='"$(abspath .)"' \
	  -DOX_REL_SERVER_BIN='"$(abspath $(B)/oxistore-server)"' \
	  -DOX_CHECK_BIN='"$(abspath $(S)/oxistore-check)"' \
	  -DOX_FAULT_SHIM='"$(abspath $(S)/tests/server/fault_shim.so)"' $< -o $@ -lhiredis -pthread

# The disk-fault test preloads this into the server; unsanitized: it only forwards calls.
$(S)/tests/server/fault_shim.so: tests/server/fault_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) -fPIC -shared $< -o $@ -ldl
$(S)/tests/server/test_diskfault $(S)/tests/server/test_refused $(S)/tests/server/test_pubsub \
  $(S)/tests/server/test_script: $(S)/tests/server/fault_shim.so
$(S)/tests/server/test_pubsub: $(B)/oxistore-server # a memory bound measured without ASan
$(S)/tests/server/test_repl $(S)/tests/server/test_sentinel: $(S)/oxistore-check # dumps compared
$(S)/tests/server/test_crash $(S)/tests/server/test_diff $(S)/tests/server/test_zset: \
  $(S)/oxistore-check # the files they leave are checked

# ---- oxistore-check (tools/): over liboxistore, proto/'s parser and writer, and keyspace/
# (the database map's and collections' formats, the SET and EXPIRE argument grammars,
# Redis's number texts); nothing of server/ ----
$(B)/oxistore-check: $(TOOL_SRC:%.c=$(B)/%.o) $(B)/libkeyspace.a $(B)/libresp.a $(B)/liboxistore.a
	$(CC) $(OPT) $^ -o $@ $(LDLIBS)
$(S)/oxistore-check: $(TOOL_SRC:%.c=$(S)/%.o) $(S)/libkeyspace.a $(S)/libresp.a $(S)/liboxistore.a
	$(CC) $(OPT) $(SANFLAGS) $^ -o $@ $(LDLIBS)

# The tool's tests run it (sanitized) on files they build with the library, and beside a
# running server (srv_util.h) and a real redis-server.
$(S)/tests/tools/%: tests/tools/%.c tests/test.h tests/server/srv_util.h $(S)/oxistore-check $(S)/oxistore-server $(S)/libkeyspace.a $(S)/liboxistore.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(SANFLAGS) $(CPPFLAGS) -Itests -Itests/server -MMD -MP \
	  -DOX_SERVER_BIN='"$(abspath $(S)/oxistore-server)"' \
	  -DOX_CHECK_BIN='"$(abspath $(S)/oxistore-check)"' $< -o $@ $(S)/libkeyspace.a $(S)/liboxistore.a \
	  -lhiredis $(LDLIBS)

# Starts the server with its defaults: 127.0.0.1:6379, data in ./data.
run: deps
	@$(MAKE) --no-print-directory $(B)/oxistore-server
	$(B)/oxistore-server

# ---- benchmarks (not tests: timing lives here) -------------------------------------
$(B)/bench/%: bench/%.c $(B)/liboxistore.a $(B)/libresp.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) $(CPPFLAGS) $< -o $@ $(B)/liboxistore.a $(B)/libresp.a $(LDLIBS)
bench-lib: deps $(B)/bench/bench_lib
	$(B)/bench/bench_lib
bench-proto: deps $(B)/bench/bench_proto
	$(B)/bench/bench_proto
# The full report, oxistore-server beside redis-server: BENCHMARKS.md and
# bench/throughput.png (knobs BENCH_N, BENCH_KEYS, … in scripts/bench-report.sh).
bench: deps $(B)/oxistore-server $(B)/oxistore-check
	scripts/bench-report.sh $(abspath $(B)/oxistore-server)
# The quick table: SET and GET, durable and not, as ratios (BENCH_N requests).
bench-quick: deps $(B)/oxistore-server
	scripts/bench-server.sh $(abspath $(B)/oxistore-server)

# The differential test against redis-server with N commands (default 200000).
N ?= 200000
difftest: deps $(S)/tests/server/test_diff
	@OX_DIFF_N=$(N) scripts/run-tests.sh $(S)/tests/server/test_diff

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
