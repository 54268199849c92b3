# unitsmith — build, test, install.
PREFIX   ?= /usr/local
DESTDIR  ?=
CARGO    ?= cargo
SHARED   ?= ../shared
# Units we generate call the helper at the path it is installed to, fixed at build time.
export UNITSMITH_PREFIX := $(PREFIX)

GEN       = target/release/unitsmith-generator
HELPER    = target/release/unitsmith
SYSGEN    = $(PREFIX)/lib/systemd/system-generators
USERGEN   = $(PREFIX)/lib/systemd/user-generators
UNITDIR   = $(PREFIX)/lib/systemd/system
BINDIR    = $(PREFIX)/bin
MANDIR    = $(PREFIX)/share/man

.PHONY: all build test unit golden golden-update conformance e2e demo install bench clean

all: build

build:
	$(CARGO) build --release --locked

# Everything CI runs.
test: build unit conformance e2e

unit:
	$(CARGO) test --release --locked --workspace

# Regenerate the golden trees under tests/golden/*/expected for review (git diff).
golden-update: build
	UPDATE_GOLDEN=1 $(CARGO) test --release --locked -p unitsmith-generator --test golden

# Podman's own Quadlet cases, when ../shared is present (system and user mode).
conformance: build
	@if [ -f $(SHARED)/quadlet-conformance/run.py ]; then \
	  python3 $(SHARED)/quadlet-conformance/run.py $(GEN) -q && \
	  python3 $(SHARED)/quadlet-conformance/run.py $(GEN) --user -q; \
	else echo "conformance: skipped, $(SHARED)/quadlet-conformance not present"; fi

# Real systemd as PID 1 (systemd-nspawn); see tests/e2e/README.md.
e2e: build
	tests/e2e/run.sh

demo: build
	QUADLET_UNIT_DIRS=$(CURDIR)/examples $(GEN) --dry-run

install: build
	install -d $(DESTDIR)$(SYSGEN) $(DESTDIR)$(USERGEN) $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(GEN) $(DESTDIR)$(SYSGEN)/unitsmith-generator
	ln -sf ../system-generators/unitsmith-generator $(DESTDIR)$(USERGEN)/unitsmith-user-generator
	install -m 0755 $(HELPER) $(DESTDIR)$(BINDIR)/unitsmith
	# Static units call the helper where it is installed.
	for u in units/*; do [ -f "$$u" ] || continue; \
	  sed 's|/usr/local/bin/unitsmith|$(BINDIR)/unitsmith|g' "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); done
	for m in man/*.[0-9]; do [ -f "$$m" ] || continue; s=$${m##*.}; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s; install -m 0644 "$$m" $(DESTDIR)$(MANDIR)/man$$s/; done

# Generator vs `cp -r` on tmpfs (ratios in one run), and the env-gate fast path.
bench: build
	python3 tests/bench/generator.py $(GEN) --max-ratio-1000 1.5
	UNITSMITH=$(HELPER) tests/bench/envgate-populate.sh

# Every cargo-fuzz target for FUZZ_SECONDS each (not part of `test`: long; needs
# `cargo install cargo-fuzz`). Prints executions and crashes per target; exit 1 on a crash.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) generator/fuzz/run.sh $(FUZZ_TARGETS)

# Fold what fuzzing found into the corpus kept in git, minimised (review the diff).
fuzz-cmin:
	cd generator && for t in $$(sed -n 's/^name = "\(.*\)"$$/\1/p' fuzz/Cargo.toml | grep -v -- -fuzz); do \
	  if [ -d fuzz/target/fuzz-work/$$t ]; then cp -n fuzz/target/fuzz-work/$$t/* fuzz/corpus/$$t/ 2>/dev/null; fi; \
	  RUSTC_BOOTSTRAP=1 cargo fuzz cmin -O -s none $$t fuzz/corpus/$$t || exit 1; done

clean:
	$(CARGO) clean
