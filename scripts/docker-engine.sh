#!/usr/bin/env bash
# Start/stop a private Docker engine and build the vlmhb images, without installing anything
# globally: runs scripts/docker_engine.py (test infrastructure; the product never starts dockerd)
# with the docker SDK and filelock from uv's cache.
#
#   scripts/docker-engine.sh start    # prints DOCKER_HOST=unix:///tmp/vlmhb-docker/docker.sock
#   scripts/docker-engine.sh image    # also builds/imports vlmhb-base:bookworm (cached tarball)
#   scripts/docker-engine.sh image --tag vlmhb-base:bookworm --tag vlmhb-ocr:bookworm
#   scripts/docker-engine.sh status   # exit 0 if it answers
#   scripts/docker-engine.sh stop
#
# Needs root (dockerd, debootstrap), Debian's docker.io and debootstrap (scripts/bootstrap.sh).
# VLMHB_DOCKER_ROOT picks the engine folder (default /tmp/vlmhb-docker; keep it short).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec uv run --quiet --no-project --with "docker>=7.1" --with "filelock>=3.13" \
  python "$HERE/docker_engine.py" "$@"
