#!/bin/sh
# test.sh — run the test suites; called by `make test` (after building both
# build/ and build/asan/).
#   scripts/test.sh            unit + e2e, release and ASan+UBSan builds
#   scripts/test.sh unit|e2e   only that suite, release build
# Extra pytest arguments can be given in PYTEST_ARGS.
set -u
cd "$(dirname "$0")/.."

what=${1:-all}
failed=""
PY=/usr/bin/python3            # Debian's python3 with python3-pytest, not a pyenv shim

export ASAN_OPTIONS="abort_on_error=0:detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

unit() {
	for t in "$1"/tests/test_*; do
		[ -x "$t" ] || continue
		echo "== unit $t"
		( cd tests/unit && "../../$t" ) || failed="$failed $t"
	done
}

e2e() {
	echo "== e2e with $1"
	TERN_BIN="$PWD/$1" $PY -m pytest -q -p no:cacheprovider tests/e2e ${PYTEST_ARGS:-} || failed="$failed e2e($1)"
}

# The e2e tests run as root and serve drops to this user (CONTRACT.md).
if [ "$(id -u)" = 0 ] && ! id tern >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tern
fi

case "$what" in
unit) unit build ;;
e2e) e2e build/tern ;;
all)
	unit build
	unit build/asan
	e2e build/tern
	e2e build/asan/tern
	;;
esac

if [ -n "$failed" ]; then
	echo "FAILED:$failed"
	exit 1
fi
echo "all tests passed"
