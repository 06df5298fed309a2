#!/usr/bin/env bash
# make demo: everything is installed and built by the Makefile; this runs the demo job.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node dist/scripts/demo.js
