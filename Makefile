# devserve — make targets. `make dev` and `make test` work as the first command on a fresh
# Debian/Ubuntu machine with Swift installed: they install the system packages they need.

SWIFT      ?= swift
ARGS       ?=
PORT       ?=
CONFIG     ?= debug
BIN         = .build/$(CONFIG)/devserve
# make install: /usr/local as root, else ~/.local (whose bin/ is on PATH on Debian and Ubuntu).
PREFIX     ?= $(if $(filter 0,$(shell id -u)),/usr/local,$(HOME)/.local)

# System packages: the libraries devserve links (OpenSSL, libinotifytools), then what the
# tests and benchmarks drive it with.
# publicsuffix: the Public Suffix List, which --allow-host checks wildcards against.
DEPS_PACKAGES  = libssl-dev libinotifytools0-dev pkg-config publicsuffix
# The browser suite drives Debian's headless Chromium with python3-selenium (/usr/bin/python3), and
# firefox-esr over Marionette with marionette-driver from PyPI, in a venv (Debian has no geckodriver).
TEST_PACKAGES  = util-linux openssl curl chromium chromium-driver python3-selenium libnss3-tools firefox-esr python3-venv
BROWSER_VENV   = .build/browser-venv
# TLS benchmarks: lighttpd-mod-openssl is only a Recommends of lighttpd (apt_install skips those),
# h2load comes with nghttp2-client, and openssl s_client checks what each server negotiates.
BENCH_PACKAGES = wrk nginx-light lighttpd lighttpd-mod-openssl nghttp2-client openssl curl procps python3-venv python3-pip

.PHONY: all deps test-deps bench-deps build release dev test unit-test format format-check bench fuzz certs trust install uninstall clean help

all: build

help:
	@echo "make dev     build and serve public/ at http://localhost:8080 (PORT=N, ARGS=\"--spa ...\")"
	@echo "make test    install what the tests need, run every suite"
	@echo "make build   debug build; make release for an optimised one"
	@echo "make bench   benchmarks against nginx, lighttpd and python (ratios)"
	@echo "make fuzz    fuzz the path resolver for FUZZ_SECONDS (default 60)"
	@echo "make format  format the Swift sources with swift-format"
	@echo "make certs   create or renew the local CA and certs/localhost*.pem"
	@echo "make trust   trust the local CA in the system store and browsers (ARGS=--uninstall undoes it)"
	@echo "make install the release binary into PREFIX/bin (now $(PREFIX)/bin); make uninstall removes it"

# Installs the packages in $(1) that dpkg does not list as installed: apt-get as root, sudo
# otherwise, and one clear sentence when neither is possible.
define apt_install
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null 2>&1; then \
	    echo "devserve needs these packages, and this machine has no apt-get: install them with your package manager:$$missing" >&2; exit 1; \
	  fi; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; \
	  else echo "devserve needs these packages and cannot install them (not root, no sudo): run 'apt-get install$$missing' as root." >&2; exit 1; fi; \
	  echo "Installing$$missing"; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; } || \
	  { echo "Installing$$missing with apt-get failed: see the messages above." >&2; exit 1; }; \
	fi
endef

deps:
	$(call apt_install,$(DEPS_PACKAGES))

test-deps: deps
	$(call apt_install,$(TEST_PACKAGES))
	@$(BROWSER_VENV)/bin/python -c "import marionette_driver" 2>/dev/null || \
	  { /usr/bin/python3 -m venv $(BROWSER_VENV) && $(BROWSER_VENV)/bin/pip install -q marionette-driver; }

bench-deps: deps
	$(call apt_install,$(BENCH_PACKAGES))

# Release builds link the Swift runtime statically: a self-contained binary, and less memory.
STATIC_FLAGS = $(if $(filter release,$(CONFIG)),--static-swift-stdlib)

build: deps
	$(SWIFT) build -c $(CONFIG) $(STATIC_FLAGS)

release:
	$(MAKE) build CONFIG=release

dev: build
	$(BIN) public $(if $(PORT),--port $(PORT)) $(ARGS)

test: test-deps format-check
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --parallel
	/usr/bin/python3 Tests/Browser/run.py --binary .build/debug/devserve
	/usr/bin/python3 Tests/Browser/run.py --binary .build/debug/devserve --tls
	$(BROWSER_VENV)/bin/python Tests/Browser/run.py --browser firefox --binary .build/debug/devserve
	$(BROWSER_VENV)/bin/python Tests/Browser/run.py --browser firefox --binary .build/debug/devserve --tls

format:
	$(SWIFT) format format --in-place --recursive --parallel Package.swift Sources Tests

format-check:
	$(SWIFT) format lint --strict --recursive --parallel Package.swift Sources Tests

bench: bench-deps
	$(SWIFT) build -c release --static-swift-stdlib
	/usr/bin/python3 Tests/Benchmarks/bench.py --binary .build/release/devserve
	/usr/bin/python3 Tests/Benchmarks/reload_bench.py --binary .build/release/devserve
	/usr/bin/python3 Tests/Benchmarks/tls_bench.py --binary .build/release/devserve

certs: build
	$(BIN) cert

# Trusts the local CA: the system store, and the browsers' NSS databases through certutil
# (libnss3-tools). `make trust ARGS=--uninstall` undoes it.
trust: build
	$(call apt_install,libnss3-tools)
	$(BIN) trust $(ARGS)

# Whether the file $(1) is a devserve binary, told without running it (whatever is there could be
# anything, and install runs as root): an ELF file holding a sentence only devserve prints
# (Sources/DevServeCLI/Arguments.swift, --header).
DEVSERVE_MARK = is set by devserve itself and cannot be overridden
is_devserve = { [ -f $(1) ] && [ "$$(head -c 4 $(1) | od -An -c | tr -d ' ')" = "177ELF" ] && grep -qaF '$(DEVSERVE_MARK)' $(1); }

# The release binary, Swift runtime linked in, so it runs on a machine with no Swift. A binary
# already there that is not devserve's is never overwritten.
install: deps
	$(SWIFT) build -c release --static-swift-stdlib
	@dest="$(DESTDIR)$(PREFIX)/bin/devserve"; \
	if [ -e "$$dest" ] && ! $(call is_devserve,"$$dest"); then \
	  echo "$$dest exists and is not devserve: move it away, or pick another PREFIX=..." >&2; exit 1; fi; \
	install -d "$(DESTDIR)$(PREFIX)/bin" && install -m 0755 .build/release/devserve "$$dest" && \
	echo "Installed $$dest; run 'devserve' in any folder to serve it."; \
	case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "$(PREFIX)/bin is not on your PATH: add it, or call $$dest.";; esac

uninstall:
	@dest="$(DESTDIR)$(PREFIX)/bin/devserve"; \
	if [ ! -e "$$dest" ]; then echo "$$dest is not there: nothing to remove."; \
	elif $(call is_devserve,"$$dest"); then rm -f "$$dest" && echo "Removed $$dest."; \
	else echo "$$dest is not devserve: left alone." >&2; exit 1; fi

FUZZ_SECONDS ?= 60
fuzz:
	bash Tests/Fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz
