# unitsmith — build, test, install.
PREFIX   ?= /usr/local
DESTDIR  ?=
CARGO    ?= cargo
SHARED   ?= ../shared
# Units we generate call the helper at the path it is installed to, fixed at build time.
export UNITSMITH_PREFIX := $(PREFIX)

# `make deb` builds for PREFIX=/usr in its own target directory, so that the /usr/local build
# of the tests and the packaged one never rebuild each other.
TARGET_DIR ?= target
GEN       = $(TARGET_DIR)/release/unitsmith-generator
HELPER    = $(TARGET_DIR)/release/unitsmith
SYSGEN    = $(PREFIX)/lib/systemd/system-generators
USERGEN   = $(PREFIX)/lib/systemd/user-generators
UNITDIR   = $(PREFIX)/lib/systemd/system
BINDIR    = $(PREFIX)/bin
MANDIR    = $(PREFIX)/share/man
# Shell completions where each shell looks. Debian's zsh reads packages' completions from
# vendor-completions, the administrator's (/usr/local) from site-functions.
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  = $(PREFIX)/share/zsh/$(if $(filter /usr,$(PREFIX)),vendor-completions,site-functions)
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d

.PHONY: all build test unit golden golden-update conformance parity e2e demo install deb deb-check bench lint-keys clean man fuzz fuzz-cmin

all: build

build:
	CARGO_TARGET_DIR=$(TARGET_DIR) $(CARGO) build --release --locked

# Everything CI runs.
test: build unit conformance parity deb-check e2e

unit:
	$(CARGO) test --release --locked --workspace

# Regenerate the golden trees under tests/golden/*/expected for review (git diff).
golden-update: build
	UPDATE_GOLDEN=1 $(CARGO) test --release --locked -p unitsmith-generator --test golden

# Rewrite the SYNOPSIS and OPTIONS sections of man/*.1 from the clap definitions, for review
# (git diff); `make unit` fails while a page differs from them.
man:
	UPDATE_MAN=1 $(CARGO) test --release --locked -p unitsmith --bin unitsmith manpages::

# Podman's own Quadlet cases, when ../shared is present (system and user mode).
conformance: build
	@if [ -f $(SHARED)/quadlet-conformance/run.py ]; then \
	  python3 $(SHARED)/quadlet-conformance/run.py $(GEN) -q && \
	  python3 $(SHARED)/quadlet-conformance/run.py $(GEN) --user -q; \
	else echo "conformance: skipped, $(SHARED)/quadlet-conformance not present"; fi

# Every file the generator writes, byte for byte, against Podman's own Quadlet output recorded
# in tests/parity/ (see its README): 5.8.2's on its test cases in ../shared, and main's
# (Podman 6, UNITSMITH_PODMAN_VERSION=6.0.0) on main's test cases kept in tests/parity/main/.
PARITY = python3 tests/parity/parity.py compare $(GEN) --kept tests/parity/kept.tsv
parity: build
	@if [ -f $(SHARED)/quadlet-conformance/tables.tsv ]; then \
	  $(PARITY) --cases $(SHARED)/quadlet-conformance/cases \
	    --table $(SHARED)/quadlet-conformance/tables.tsv --data tests/parity/5.8.2; \
	else echo "*** parity with Podman 5.8.2: SKIPPED: $(SHARED)/quadlet-conformance (its test cases) is not present ***" >&2; fi
	@$(PARITY) --cases tests/parity/main/cases --table tests/parity/main/tables.tsv \
	  --data tests/parity/main --podman-version 6.0.0

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
	# Completions, generated from the command-line definitions by the helper just built.
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(HELPER) completions bash >$(DESTDIR)$(BASHCOMPDIR)/unitsmith
	$(HELPER) completions zsh >$(DESTDIR)$(ZSHCOMPDIR)/_unitsmith
	$(HELPER) completions fish >$(DESTDIR)$(FISHCOMPDIR)/unitsmith.fish
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/unitsmith $(DESTDIR)$(ZSHCOMPDIR)/_unitsmith \
	  $(DESTDIR)$(FISHCOMPDIR)/unitsmith.fish

# The Debian package (PREFIX=/usr). The last line printed is the path of the .deb.
DEB_DIR = target/deb
deb:
	@rm -rf $(DEB_DIR)/stage && mkdir -p $(DEB_DIR)
	@$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(CURDIR)/$(DEB_DIR)/stage \
	  TARGET_DIR=$(DEB_DIR) >$(DEB_DIR).log 2>&1 || { tail -n 30 $(DEB_DIR).log; exit 1; }
	@packaging/deb/build-deb.sh $(DEB_DIR)/stage $(CURDIR)/$(DEB_DIR)

# The system extension image for image-based hosts (systemd-sysext(8); README.md, "Image-based
# hosts"): the package's /usr tree, from the package's build, as an EROFS image
# (packaging/sysext/). The last line printed is the path of the image.
.PHONY: sysext
SYSEXT_DIR = target/sysext
sysext:
	@rm -rf $(SYSEXT_DIR)/stage && mkdir -p $(SYSEXT_DIR)
	@$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(CURDIR)/$(SYSEXT_DIR)/stage \
	  TARGET_DIR=$(DEB_DIR) >$(SYSEXT_DIR).log 2>&1 || { tail -n 30 $(SYSEXT_DIR).log; exit 1; }
	@packaging/sysext/build-sysext.sh $(SYSEXT_DIR)/stage $(CURDIR)/$(SYSEXT_DIR)

# The package as Debian's tools judge it: lintian (every tag fixed or justified in
# packaging/deb/lintian-overrides) and its contents.
deb-check:
	@deb=$$($(MAKE) --no-print-directory deb | tail -n 1) && packaging/deb/check-deb.sh "$$deb"

# Generator vs `cp -r` on tmpfs (ratios in one run), a 20-service Compose project, and the
# env-gate fast path.
bench: build
	python3 tests/bench/generator.py $(GEN) --max-ratio-1000 1.5
	python3 tests/bench/compose.py $(GEN) --max-ms 50
	UNITSMITH=$(HELPER) tests/bench/envgate-populate.sh

# lint's per-release systemd key data (helpers/src/lint/keys.txt), read from a systemd git clone
# with its tags: make lint-keys SYSTEMD_GIT=~/src/systemd. Committed data: not needed to build.
lint-keys:
	@test -n "$(SYSTEMD_GIT)" || { echo "usage: make lint-keys SYSTEMD_GIT=DIR (a clone of github.com/systemd/systemd)"; exit 2; }
	python3 tests/lint-keys/regenerate.py --git $(SYSTEMD_GIT)

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
