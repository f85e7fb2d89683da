# Entry points for building, installing and testing ipvsrs. `make test` is what CI runs;
# `make demo` is the README's first command.
CARGO ?= cargo
CC ?= cc
PREFIX ?= /usr/local
# Where make install puts the libraries and ipvsrs.pc (the Debian packages: the multiarch
# directory, /usr/lib/x86_64-linux-gnu).
LIBDIR ?= $(PREFIX)/lib
DESTDIR ?=
# Extra libtest arguments for the kernel tests, e.g. make test-kernel KERNEL_TEST_ARGS=scheduler
KERNEL_TEST_ARGS ?=
# Seconds each fuzz target runs in make fuzz, and the targets (fuzz/fuzz_targets/).
FUZZ_TIME ?= 600
# Seconds each fuzz target runs in make test's short pass.
FUZZ_SHORT_TIME ?= 20
# Executions after which a target stops early (-1: none), as in make fuzz FUZZ_RUNS=10000000.
FUZZ_RUNS ?= -1
# The fuzzed code is safe Rust (the YAML parser forbids unsafe code): without
# AddressSanitizer it runs about 4 times as many inputs. FUZZ_SANITIZER=address for it.
FUZZ_SANITIZER ?= none
FUZZ_TARGETS := yaml_model model_roundtrip grammars netlink_replies model_cache
# Table size of make bench: services and destinations per service; runs of each row.
BENCH_ARGS ?= 10000 10
BENCH_RUNS ?= 3
# BENCH_ONLY=listing: make bench measures the service listings alone.
BENCH_ONLY ?=
export BENCH_RUNS BENCH_ONLY

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
PATCH := $(word 3,$(subst ., ,$(VERSION)))
# The header as cbindgen writes it from src/capi alone (the C ABI; the safe layers stay
# unparsed), with the version macros taken from Cargo.toml.
GENERATE_HEADER = $(CBINDGEN) --quiet --config include/cbindgen.toml src/capi/mod.rs \
	| sed -e 's/@VERSION_MAJOR@/$(MAJOR)/' -e 's/@VERSION_MINOR@/$(MINOR)/' \
	      -e 's/@VERSION_PATCH@/$(PATCH)/'
# Cargo's output, also when CARGO_TARGET_DIR moves it (make deb builds a copy of the tree
# into this tree's target/).
RELEASE := $(or $(CARGO_TARGET_DIR),target)/release
# What a static link of libipvsrs.a needs (rustc --print native-static-libs, without
# -lgcc_s: the compiler driver adds the unwinder itself, and -static has no libgcc_s).
LIBS_PRIVATE := -lutil -lrt -lpthread -lm -ldl -lc
CBINDGEN_VERSION := 0.29.4
CBINDGEN := .testbed/cbindgen/bin/cbindgen
CFLAGS_STRICT := -Wall -Wextra -Werror -O2 -g
# C tests build against a DESTDIR install, found only through pkg-config.
STAGE := $(CURDIR)/target/stage
STAGE_PREFIX := /usr
STAGE_PC := PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_LIBDIR=$(STAGE)$(STAGE_PREFIX)/lib/pkgconfig pkg-config
CBIN := target/c-tests
C_TESTS := layout compat native threads close_race apply changes listings hostile churn converger fork
EXAMPLES := quickstart ipvs-list ipvs-metrics lvs-checkd
DEMO_PREFIX := $(CURDIR)/target/demo-prefix
# The venv the kernel tests' Python runs in, with the package installed from c-examples/python.
PYTHON_VENV := target/python-venv
BENCH_BIN := target/bench
# make deb builds a copy of the tree under DEB_DIR, so that dpkg-buildpackage writes the
# packages there (beside the tree it builds), in this tree's cargo target directory: cargo
# finds the copy's sources unchanged and reuses the release build.
DEB_DIR := target/deb
DEB_TREE := $(DEB_DIR)/ipvsrs-$(VERSION)
DEB_SOURCES := Cargo.toml Cargo.lock Makefile README.md src include pkgconfig c-examples debian
# What make deb-install builds against the installed packages, for the kernel tests.
DEB_CHECK := $(CURDIR)/target/deb-check

# Run the prerequisites of a target one after another, in the order written.
.NOTPARALLEL:

.PHONY: all build install header check-header check-install c-tests deb deb-install \
        deb-purge-check demo bench fuzz fuzz-short lint python-venv stress test testbed \
        test-host test-kernel test-python

## all: build the shared and static libraries
all: build

## build: cargo build --release (libipvsrs.so, libipvsrs.a, the ipvsrs command)
build:
	$(CARGO) build --release --lib --bin ipvsrs

## install: libraries, headers, ipvsrs.pc, and the ipvsrs command with its manual page and
## bash completion, under $(DESTDIR)$(PREFIX) (the libraries and ipvsrs.pc under LIBDIR)
install: build
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include/ipvsrs \
	    $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(RELEASE)/ipvsrs $(DESTDIR)$(PREFIX)/bin/ipvsrs
	install -m 644 src/bin/ipvsrs/ipvsrs.1 $(DESTDIR)$(PREFIX)/share/man/man1/ipvsrs.1
	$(RELEASE)/ipvsrs completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ipvsrs
	install -m 755 $(RELEASE)/libipvsrs.so $(DESTDIR)$(LIBDIR)/libipvsrs.so.$(VERSION)
	ln -sf libipvsrs.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libipvsrs.so.$(MAJOR)
	ln -sf libipvsrs.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libipvsrs.so
	install -m 644 $(RELEASE)/libipvsrs.a $(DESTDIR)$(LIBDIR)/libipvsrs.a
	install -m 644 include/ipvsrs.h include/libipvs.h $(DESTDIR)$(PREFIX)/include/ipvsrs/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' pkgconfig/ipvsrs.pc.in \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/ipvsrs.pc

## deb: the Debian packages libipvsrs0, libipvsrs-dev, ipvsrs and python3-ipvsrs, with
## Cargo.toml's version, into $(DEB_DIR) (needs debhelper and dh-python; Rust from PATH)
deb:
	@command -v $(CARGO) >/dev/null || \
	    { echo "make deb: no $(CARGO) in PATH (Debian 12's is too old: use rustup's)" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_TREE)
	cp -a $(DEB_SOURCES) $(DEB_TREE)/
	rm $(DEB_TREE)/debian/changelog.in
	sed -e 's/@VERSION@/$(VERSION)/' \
	    -e "s/@DATE@/$$(date -R -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)})/" \
	    debian/changelog.in > $(DEB_TREE)/debian/changelog
	cd $(DEB_TREE) && CARGO_TARGET_DIR=$(abspath $(or $(CARGO_TARGET_DIR),target)) \
	    dpkg-buildpackage --build=binary --no-sign
	rm -rf $(DEB_TREE)

## deb-install: lintian on the packages of make deb, then install them with apt (and what
## they depend on) and check them from the system's paths; builds $(DEB_CHECK) for the
## kernel tests (tests/kernel/packages.rs). make deb-purge-check removes them again.
deb-install: deb
	tests/deb/install $(DEB_DIR) $(VERSION) $(DEB_CHECK)

## deb-purge-check: purge the packages and check that none of their files is left
deb-purge-check:
	tests/deb/purge-check $(DEB_CHECK)

$(CBINDGEN):
	$(CARGO) install --quiet --locked --root .testbed/cbindgen cbindgen --version $(CBINDGEN_VERSION)

## header: regenerate include/ipvsrs.h from src/capi with the pinned cbindgen
header: $(CBINDGEN)
	$(GENERATE_HEADER) > target/ipvsrs.h && mv target/ipvsrs.h include/ipvsrs.h

## check-header: fail if include/ipvsrs.h differs from what the source generates
check-header: $(CBINDGEN)
	$(GENERATE_HEADER) > target/ipvsrs.h
	diff -u include/ipvsrs.h target/ipvsrs.h || \
	    { echo "include/ipvsrs.h is stale: run make header" >&2; exit 1; }

## check-install: a DESTDIR install has the right files, SONAME, exports and versions
check-install: c-tests
	tests/install/check $(STAGE) $(STAGE_PREFIX) $(VERSION)

## c-tests: the C tests and c-examples, built through pkg-config against a DESTDIR install
c-tests:
	rm -rf $(STAGE) $(CBIN)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=$(STAGE_PREFIX)
	mkdir -p $(CBIN)
	for t in $(C_TESTS); do \
	    $(CC) $(CFLAGS_STRICT) -pthread -Itests/c tests/c/$$t.c -o $(CBIN)/$$t \
	        $$($(STAGE_PC) --cflags --libs ipvsrs) -Wl,-rpath,$(STAGE)$(STAGE_PREFIX)/lib || exit 1; \
	done
	$(CC) $(CFLAGS_STRICT) -static -Itests/c tests/c/compat.c -o $(CBIN)/compat-static \
	    $$($(STAGE_PC) --static --cflags --libs ipvsrs)
	for e in $(EXAMPLES); do \
	    $(CC) $(CFLAGS_STRICT) c-examples/$$e.c -o $(CBIN)/$$e \
	        $$($(STAGE_PC) --cflags --libs ipvsrs) -Wl,-rpath,$(STAGE)$(STAGE_PREFIX)/lib || exit 1; \
	done

## demo: build, install into a prefix, build c-examples/quickstart.c with pkg-config and
## run it against a real IPVS table (a fresh namespace on an IPVS host, else the VM)
demo: testbed
	$(MAKE) --no-print-directory install PREFIX=$(DEMO_PREFIX)
	$(CC) $(CFLAGS_STRICT) c-examples/quickstart.c -o target/quickstart \
	    $$(PKG_CONFIG_PATH=$(DEMO_PREFIX)/lib/pkgconfig pkg-config --cflags --libs ipvsrs) \
	    -Wl,-rpath,$(DEMO_PREFIX)/lib
	tests/testbed/run-in-kernel unshare --net sh -c 'ip link set lo up && target/quickstart'

## bench: $(BENCH_ARGS) services x destinations, BENCH_RUNS (3) runs a row: ipvsrs
## validate on the host, with hostile models; then, in a kernel with IPVS (the VM unless
## the host has it), building the table (ipvsrs apply, ipvsadm -R, libipvs calls one at a
## time) in a fresh namespace each run, and reading and reconciling it, and listing its
## services; BENCH_ONLY=listing: the listings alone
bench: testbed
	$(CARGO) build --release --bin ipvsrs
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=$(STAGE_PREFIX)
	mkdir -p $(BENCH_BIN)
	for b in libipvs-build list-services long-lived; do \
	    $(CC) $(CFLAGS_STRICT) tests/bench/$$b.c -o $(BENCH_BIN)/$$b \
	        $$($(STAGE_PC) --cflags --libs ipvsrs) -Wl,-rpath,$(STAGE)$(STAGE_PREFIX)/lib || exit 1; \
	done
	tests/bench/run $(RELEASE)/ipvsrs $(BENCH_BIN)/libipvs-build $(BENCH_ARGS)

## fuzz: each fuzz target for $(FUZZ_TIME) seconds (cargo-fuzz, nightly), its corpus kept in
## target/fuzz-corpus and seeded from the captured replies and the model fixtures
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install --profile minimal nightly
	command -v cargo-fuzz >/dev/null || $(CARGO) install --quiet --locked cargo-fuzz
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p target/fuzz-corpus/$$t || exit 1; \
	    seeds=; case $$t in netlink_replies) seeds=tests/data/replies ;; \
	        yaml_model|model_roundtrip|model_cache) seeds=tests/data/models ;; esac; \
	    $(CARGO) +nightly fuzz run -s $(FUZZ_SANITIZER) $$t target/fuzz-corpus/$$t $$seeds -- \
	        -max_total_time=$(FUZZ_TIME) -runs=$(FUZZ_RUNS) -max_len=4096 \
	        -print_final_stats=1 || exit 1; \
	done

## fuzz-short: each fuzz target for $(FUZZ_SHORT_TIME) seconds (no longer part of make test:
## with the kernel suite run in two kernels, its build and runs no longer fit CI's 40 minutes)
fuzz-short:
	$(MAKE) --no-print-directory fuzz FUZZ_TIME=$(FUZZ_SHORT_TIME)

## test: everything but fuzzing: prepare the test bed, then host tests, then kernel tests in
## each kernel (Debian's 6.1 and 6.12 in the VM), the Debian packages installed (the
## kernel tests use them), then purge the packages
test: testbed test-host test-kernel deb-purge-check

## stress: the heavy kernel case, in the first kernel only (not part of make test): 50
## applies of 10,000 x 10 killed at random moments, each repaired by the next
## (STRESS_KILLS, STRESS_SERVICES; IPVSRS_KILL_SEED replays a run)
STRESS_KILLS ?= 50
STRESS_SERVICES ?= 10000
stress: testbed c-tests python-venv
	IPVSRS_KILLS=$(STRESS_KILLS) IPVSRS_KILL_SERVICES=$(STRESS_SERVICES) \
	    IPVSRS_KERNELS="$$(tests/testbed/run-in-kernel --kernels | head -n1)" \
	    IPVSRS_C_TESTS=$(CURDIR)/$(CBIN) CARGO="$(CARGO)" tests/testbed/kernel-tests \
	    convergers::an_apply_killed_at_any_moment_is_repaired_by_the_next --nocapture

## testbed: install what the tests need (packages, virtme-ng, a kernel with IPVS)
testbed:
	tests/testbed/setup

## lint: rustfmt, clippy and rustdoc (warnings are errors), installed with rustup if missing
lint:
	$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --quiet

## test-host: tests that need no IPVS kernel (the kernel tests show as ignored)
test-host: lint check-header check-install test-python
	$(CARGO) test

## test-python: the Python package pip-installed into a fresh venv: mypy --strict on it and
## on its tests, and the tests that need no IPVS kernel, against the release library
test-python: build
	tests/python/check $(RELEASE)/libipvsrs.so

## python-venv: $(PYTHON_VENV), the kernel tests' Python, with the package installed anew
## from c-examples/python (on the host: the VM may have no network)
# The build backend pyproject.toml asks for is kept in the venv: a later run needs no network.
python-venv:
	test -x $(PYTHON_VENV)/bin/python || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/python -m pip install -q "setuptools>=77"
	$(PYTHON_VENV)/bin/python -m pip install -q --no-build-isolation ./c-examples/python

## test-kernel: the ignored tests of tests/kernel, as root in each kernel with IPVS: the host's,
## or one VM boot of each kernel tests/testbed/setup fetched (IPVSRS_KERNELS picks some).
## Installs the Debian packages first (make deb-install) and leaves them installed.
test-kernel: deb-install c-tests python-venv
	IPVSRS_C_TESTS=$(CURDIR)/$(CBIN) IPVSRS_DEB_CHECK=$(DEB_CHECK) CARGO="$(CARGO)" \
	    tests/testbed/kernel-tests $(KERNEL_TEST_ARGS)
