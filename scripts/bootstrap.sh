#!/usr/bin/env bash
# Installs what VLMHyperBench needs on a fresh Debian or Ubuntu machine that has Python 3.11+:
# system packages (Tesseract with Russian, a Docker engine, debootstrap for the container images,
# git, PostgreSQL for the management server's tests, Chromium and Node.js for the dashboard's
# browser tests) and the Python tools that drive everything else (uv, nox, ruff).
# Safe to run again: every step is idempotent.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_PACKAGES=(git tesseract-ocr tesseract-ocr-rus tesseract-ocr-eng docker.io debootstrap ca-certificates
              fonts-dejavu-core postgresql chromium)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "bootstrap: installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY_TOOLS=(uv nox ruff)
if ! python3 -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}" 2>/dev/null; then
  # Debian's own Python is "externally managed" (PEP 668): install the tools for this user instead.
  python3 -m pip install --quiet --disable-pip-version-check --user --break-system-packages "${PY_TOOLS[@]}"
fi
echo "bootstrap: ready ($(python3 -m uv --version), nox $(python3 -m nox --version 2>&1))"
