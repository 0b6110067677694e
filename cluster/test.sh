#!/usr/bin/env bash
# The test command: installs what is missing, starts the private PostgreSQL, builds, and runs every test target.
#
#   cluster/test.sh                      # everything
#   cluster/test.sh ParquetKitTests      # only the named test targets
#
# Test targets run one after another (the tests inside a target run in parallel): a CPU-heavy target such as the
# million-row COPY would otherwise starve the latency-sensitive ones on this 2-core machine.
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=setup.sh
source cluster/setup.sh || exit 1
swift build --build-tests 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Copying|Build)' || true; } \
    || { echo "test: the build failed"; echo "test: 0 passed, 1 failed"; exit 1; }

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(ls Tests | grep 'Tests$')  # WebtoonTestSupport is a library, not a test target
fi
passed=0
failed=0
failed_targets=()
# One target's run: prints its summary and failures; sets n_pass, n_fail, status. A hang is ended after
# WEBTOON_TEST_TIMEOUT seconds (default 300) so it fails the target instead of the whole CI budget.
run_target() {
    local target="$1" log
    log="$(mktemp)"
    status=0
    # Swift Testing only: XCTest's "Executed 0 tests" line would hide the real totals.
    timeout --signal=KILL "${WEBTOON_TEST_TIMEOUT:-300}" \
        swift test --skip-build --disable-xctest --filter "^${target}\." >"$log" 2>&1 || status=$?
    grep -E '^(✘|✔ Test run|error|fatal|Fatal)' "$log" || true
    if [ "$status" = 137 ]; then
        # timeout kills `swift test`, not the test runner it started: end this checkout's runner only.
        pkill -9 -f "$PWD/.build/.*PackageTests.xctest" 2>/dev/null || true
        echo "test: $target did not finish within ${WEBTOON_TEST_TIMEOUT:-300} s (killed)"
    fi
    local total
    total=$(sed -nE 's/^[✔✘] Test run with ([0-9]+) tests?.*/\1/p' "$log" | tail -n 1)
    n_fail=$(grep -E '^✘ Test .* failed after' "$log" | grep -vc '^✘ Test run' || true)
    n_pass=$(( ${total:-0} - n_fail ))
    rm -f "$log"
}

for target in "${targets[@]}"; do
    echo "== $target"
    run_target "$target"
    passed=$((passed + n_pass))
    failed=$((failed + n_fail))
    if [ "$status" != 0 ] || [ "$n_fail" != 0 ]; then
        failed_targets+=("$target")
        [ "$n_fail" != 0 ] || failed=$((failed + 1))
    elif [ "$n_pass" = 0 ]; then
        echo "test: $target ran no test" >&2
        failed_targets+=("$target")
        failed=$((failed + 1))
    fi
done
# The compose file cannot run here (no Docker engine): validate its schema and the topology the cluster relies on.
if [ $# -eq 0 ]; then
    echo "== docker-compose.yml"
    if bash cluster/validate-compose.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); failed_targets+=(compose); fi
    # The same topology across "hosts": coordinator, two workers and the reducer in their own network namespaces,
    # over TCP (needs root for ip netns; without it this is reported as skipped, not passed).
    echo "== network-namespace topology (cluster/netns-topology.sh --check)"
    if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
        if WEBTOON="$(swift build --show-bin-path)/webtoon" CHECK_TIMEOUT=240 bash cluster/netns-topology.sh --check > .build/netns-check.log 2>&1; then
            passed=$((passed + 1))
            grep -E '\] (crawl|reduce) ok' .build/netns-check.log || true
        else
            tail -n 30 .build/netns-check.log
            failed=$((failed + 1)); failed_targets+=(netns)
        fi
        # The namespaces and links go either way (the check stops only its processes).
        bash cluster/netns-topology.sh --down > /dev/null 2>&1 || true
    else
        echo "test: netns topology skipped: it needs root and iproute2"
    fi
fi
[ ${#failed_targets[@]} = 0 ] || echo "test: failing targets: ${failed_targets[*]}"
echo "test: $passed passed, $failed failed"
[ "$failed" = 0 ]
