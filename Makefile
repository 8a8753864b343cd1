# All set-up for a fresh Debian machine (run as root), then the job.
#   make demo   - set up, build the sample repository, run the main job end to end
#   make test   - set up, build the sample repository, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Debian packages the project needs on the machine; installed only when missing.
APT_PACKAGES := rpm createrepo-c cpio zstd dpkg gcc g++ make ca-certificates \
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static binfmt-support \
  qemu-system-x86 qemu-system-arm skopeo podman umoci docker.io strace graphviz
SAMPLE_REPO := build/sample-repo
RELEASE := 24.03-LTS

.PHONY: setup system-packages venv sample-repo apps test demo bench lint clean

setup: system-packages venv

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip; }

venv: $(VENV)/.stamp

# The numeric libraries are pinned to the versions the committed model was made with.
$(VENV)/.stamp: pyproject.toml models/constraints.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]' -c models/constraints.txt
	@touch $@

sample-repo: setup
	$(PY) samples/mkrepo.py --out $(SAMPLE_REPO) --release $(RELEASE)

# The sample images' example programs, compiled for x86_64 and aarch64.
apps: setup
	sh samples/apps/build.sh build/apps

test: setup sample-repo apps
	$(PY) -m pytest -q

demo: setup sample-repo apps
	$(PY) samples/demo.py --repo-root $(SAMPLE_REPO) --release $(RELEASE)

bench: setup sample-repo apps
	$(PY) benchmarks/repo_metadata.py
	$(PY) benchmarks/cut.py
	$(PY) benchmarks/startup.py

lint: setup
	$(VENV)/bin/ruff check sdfgen builder tests samples benchmarks
	$(VENV)/bin/mypy sdfgen builder

clean:
	rm -rf build $(VENV)
