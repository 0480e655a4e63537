# zenoo_retry - developer entry points. The README's two commands are `make demo` and
# `make test`; both set up everything they need on a fresh machine.
CC ?= gcc
CFLAGS_TEST = -std=c11 -Wall -Wextra -Werror -O1 -g -Isrc -Itests/c
CORE_SRC = $(wildcard src/core/*.c)
CORE_HDR = $(wildcard src/core/*.h)
CTEST_SRC = $(wildcard tests/c/*.c)

.PHONY: demo test ctest build bench clean sanitize fuzz harden harden-long

demo:
	@py=$$(scripts/bootstrap.sh) && $$py -m zenoo_retry demo

test:
	@scripts/test.sh

build/ctest: $(CORE_SRC) $(CORE_HDR) $(CTEST_SRC) tests/c/zr_test.h
	@mkdir -p build
	$(CC) $(CFLAGS_TEST) $(CORE_SRC) $(CTEST_SRC) -lm -lpthread -o $@

ctest: build/ctest
	./build/ctest

build:
	@scripts/bootstrap.sh >/dev/null

bench:
	@py=$$(scripts/bootstrap.sh) && $$py bench/run.py

# hardening (issue 9): sanitizers + valgrind + pytest under ASan; libFuzzer targets
sanitize:
	@scripts/bootstrap.sh >/dev/null && scripts/sanitize.sh

FUZZ_SECONDS ?= 20
fuzz:
	@scripts/bootstrap.sh >/dev/null && scripts/fuzz.sh $(FUZZ_SECONDS)

harden:
	@scripts/bootstrap.sh >/dev/null && scripts/hardening.sh

harden-long:
	@scripts/bootstrap.sh >/dev/null && scripts/hardening.sh --long

clean:
	rm -rf build dist *.egg-info zenoo_retry/*.so
