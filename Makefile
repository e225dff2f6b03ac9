# Warden: the two commands (`make run`, `make test`) and the longer targets around them.
# Each target installs missing Debian packages first (tools/deps.sh, idempotent).

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CONFIG     ?= warden.conf
FUZZ_SECONDS ?= 60

PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)

.PHONY: all deps deps-run build run install test test-asan format format-check fuzz bench clean

all: build

deps:
	@./tools/deps.sh

deps-run:
	@./tools/deps.sh run

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Start the CSE on its embedded SQLite default with the shipped, commented config: only what running
# needs is installed (tools/deps.sh run) and built (the `runtime` target: warden, wardenctl; no tests,
# fuzzers or benchmarks). ARGS go to the server: make run ARGS=--http.port=18080
run: deps-run
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target runtime
	./$(BUILD)/warden --config $(CONFIG) $(ARGS)

# Install the programs, the configuration ($(SYSCONFDIR)/warden/warden.conf, an existing one is kept),
# the systemd unit and the manual pages under PREFIX; DESTDIR stages them (make install DESTDIR=/tmp/s)
install: deps-run
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_WERROR=ON \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) -DCMAKE_INSTALL_SYSCONFDIR=$(SYSCONFDIR) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS) --target installable
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# Everything CI runs: format check, warnings-as-errors build + all tests, then the whole suite
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps format-check
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARDEN_WERROR=ON >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory test-asan

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWARDEN_WERROR=ON -DSANITIZER=address,undefined >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: ok"

# Coverage-guided fuzzing with libFuzzer (clang), FUZZ_SECONDS per harness, seeded from the
# committed corpora; new inputs go to $(FUZZ_BUILD)/corpora/<harness>.
fuzz: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DWARDEN_FUZZ=ON -DWARDEN_TESTS=OFF \
		-DSANITIZER=address,undefined >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	@for h in $$(ls fuzz/corpora); do \
		mkdir -p $(FUZZ_BUILD)/corpora/$$h; \
		echo "fuzz: $$h for $(FUZZ_SECONDS)s"; \
		./$(FUZZ_BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			$(FUZZ_BUILD)/corpora/$$h fuzz/corpora/$$h || exit 1; \
	done

bench: deps
	./bench/run.sh
	./bench/authz.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-bench
