# The two commands of the README, and a few for developers. CMake does the real work.
#   make run    installs what is missing, builds, migrates and starts wfreg on SQLite
#   make test   installs what is missing, builds (warnings are errors) and runs every test,
#               then the same unit and integration tests under ASan+UBSan, the unit tests
#               under valgrind memcheck, and each fuzz target for FUZZ_SECONDS (60)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all configure build deps run test test-fast asan memcheck fuzz clean format

all: build

deps:
	@scripts/install-deps.sh

configure:
	@cmake -S . -B $(BUILD) -DWFREG_WERROR=ON >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

run: deps configure
	@cmake --build $(BUILD) -j $(JOBS) --target wfreg -- --no-print-directory
	@scripts/run.sh $(BUILD)/wfreg

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory memcheck
	@$(MAKE) --no-print-directory fuzz

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DWFREG_WERROR=ON -DWFREG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS) -- --no-print-directory
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|integration'

# the unit tests under valgrind memcheck: no error, no definite leak (tests/memcheck.sh)
memcheck: build
	@tests/memcheck.sh $(BUILD)

# each libFuzzer target for FUZZ_SECONDS from its seed corpus (tests/fuzz; clang)
fuzz:
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DWFREG_FUZZ=ON -DWFREG_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) -- --no-print-directory
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -j $(JOBS) -L fuzz

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
