#!/usr/bin/env bash
# System packages the project uses: Debian's Fashion-MNIST (gzipped IDX files, a data source) and Debian's chromium
# (the headless browser the report test opens report.html in). Each is installed only when missing, and only where
# root and apt-get are available; SSMAE_SKIP_APT=1 skips both.
set -euo pipefail
install_pkg() { # install_pkg "PACKAGE..." WHAT-IS-MISSING-WITHOUT-IT
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # $1 unquoted on purpose: it is a list of packages.
    { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $1 >/dev/null; } \
      || echo "warning: could not install $1; $2" >&2
  else
    echo "note: Debian package $1 not installed (needs root and apt-get); $2" >&2
  fi
}
if [ -n "${SSMAE_SKIP_APT:-}" ]; then exit 0; fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  install_pkg dataset-fashion-mnist "fashion-mnist sources will be unavailable"
fi
if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
  # fonts-dejavu-core: headless chromium draws the report's text with it where no other font is installed.
  install_pkg "chromium fonts-dejavu-core" "the report's browser test (test/check-report.test.js) will fail; set CHROMIUM to a Chromium binary"
fi
