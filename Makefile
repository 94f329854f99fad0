# privfl — the user's interface. Every target installs what it needs first
# (Debian packages, only when missing) and then drives CMake.
#
#   make demo    a simulated federation on Fashion-MNIST (SecAgg + DP)
#   make test    build and run the whole suite, then again under ASan+UBSan,
#                then the threaded tests under ThreadSanitizer
#   make bench   benchmarks against baselines measured in the same run
#   make install binaries, libprivfl, headers, pkg-config file, man pages

JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
ASAN     ?= build-asan
TSAN     ?= build-tsan
PREFIX   ?= /usr/local
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_ENV  := DEBIAN_FRONTEND=noninteractive

DEPS_BUILD := cmake make gcc pkg-config libsodium-dev libnng-dev \
	libmsgpack-dev libcmocka-dev zlib1g-dev dataset-fashion-mnist
DEPS_TEST  := $(DEPS_BUILD) python3 openssl curl chromium clang-format git \
	python3-sklearn libtsan2 systemd man-db python3-torch python3-numpy
DEPS_BENCH := $(DEPS_BUILD) python3-torch python3-numpy libopenblas0-pthread

.PHONY: all deps deps-test deps-bench build build-asan build-tsan demo test \
	test-fast test-asan test-tsan bench install fuzz format clean

all: build

# install-missing PKGS: apt-get only what dpkg does not report installed.
define install-missing
	@missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) $(APT_ENV) apt-get update -qq && \
		$(SUDO) $(APT_ENV) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install-missing,$(DEPS_BUILD))

deps-test:
	$(call install-missing,$(DEPS_TEST))

deps-bench:
	$(call install-missing,$(DEPS_BENCH))

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN)/CMakeCache.txt:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DPFL_SANITIZE=ON -DPFL_BENCH=OFF

build-asan: deps $(ASAN)/CMakeCache.txt
	cmake --build $(ASAN) -j $(JOBS)

$(TSAN)/CMakeCache.txt:
	cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DPFL_TSAN=ON -DPFL_BENCH=OFF

build-tsan: deps $(TSAN)/CMakeCache.txt
	cmake --build $(TSAN) -j $(JOBS)

demo: build
	./$(BUILD)/sim/privfl-sim --config docs/examples/demo.conf --out runs/demo

test: deps-test
	$(MAKE) test-fast
	$(MAKE) test-asan
	$(MAKE) test-tsan

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# The tests labelled tsan (tests/CMakeLists.txt). setarch -R: TSan's
# runtime needs the fixed memory layout that some kernels' ASLR (more
# mmap_rnd_bits) breaks ("unexpected memory mapping"). A reported race
# fails the test (exit status 66).
test-tsan: build-tsan
	cd $(TSAN) && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp \
		second_deadlock_stack=1" \
		setarch $$(uname -m) -R ctest -L tsan --output-on-failure -j $(JOBS)

bench: deps-bench build
	./bench/run.sh $(BUILD)

FUZZ_SECONDS ?= 60
fuzz: deps
	$(call install-missing,clang libclang-rt-14-dev)
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPFL_FUZZ=ON -DPFL_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS)
	./tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	$(SUDO) cmake --install $(BUILD) --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN) $(TSAN) build-fuzz
