#!/bin/sh
# fuzz.sh SECONDS TARGET... — run each libFuzzer target for SECONDS.
# Corpora grow in build/fuzz/corpus/<name>/, seeded from fuzz/seeds/<name>/.
# A crash stops the run with its input saved as build/fuzz/crash-*; turn it
# into a regression test in tests/unit/ after fixing.
set -eu
secs=$1
shift
status=0
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	corpus=build/fuzz/corpus/$name
	mkdir -p "$corpus"
	seeds=""
	[ -d "fuzz/seeds/$name" ] && seeds="fuzz/seeds/$name"
	echo "== fuzz $name for ${secs}s"
	if ! "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix=build/fuzz/ "$corpus" $seeds 2>build/fuzz/$name.log; then
		tail -40 "build/fuzz/$name.log"
		echo "FUZZ FAILURE: $name"
		status=1
	else
		grep -E '^#[0-9]+ *DONE' "build/fuzz/$name.log" || tail -1 "build/fuzz/$name.log"
	fi
done
exit $status
