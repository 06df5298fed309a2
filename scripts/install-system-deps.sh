#!/usr/bin/env bash
# System packages the project reads data from: Debian's Fashion-MNIST (gzipped IDX files).
set -euo pipefail
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] && [ -z "${SSMAE_SKIP_APT:-}" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null \
      || echo "warning: could not install dataset-fashion-mnist; fashion-mnist sources will be unavailable" >&2
  else
    echo "note: Debian package dataset-fashion-mnist not installed (needs root and apt-get); fashion-mnist sources unavailable" >&2
  fi
fi
