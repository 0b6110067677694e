#!/usr/bin/env bash
# The test command: installs what is missing, starts the private PostgreSQL, builds and runs every test.
# Extra arguments go to `swift test` (for example: cluster/test.sh --filter ParquetKitTests).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup.sh
source cluster/setup.sh
swift build --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Copying|Build)' || true; }
# Swift Testing only: XCTest's "Executed 0 tests" line would hide the real totals.
swift test --skip-build --disable-xctest "$@"
