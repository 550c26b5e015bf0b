#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Rig self-test: in a nested run of the runner, a failing test, a test that
# exceeds its timeout and a test that leaves devices behind each fail the
# run; a skipping test counts as skipped; a passing one as passed.
. "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 7

out=$SCRATCH/nested
tap=$("$SRCDIR/selftests/run_tests.sh" -d "$SRCDIR/selftests/rig-fixtures" \
	-o "$out" fixture-pass fixture-fail fixture-timeout fixture-skip \
	fixture-leak 2>&1)
rc=$?
log "$tap"
res=$(cat "$out/results.txt" 2>&1)

expect()
{
	local desc=$1 re=$2

	if grep -qE -- "$re" <<< "$res"; then
		ktap_test_pass "$desc"
	else
		log "expected /$re/ in results:"
		log "$res"
		ktap_test_fail "$desc"
	fi
}

ktap_check "nested run with failures exits non-zero" test $rc -ne 0
expect "passing test passes" '^PASS fixture-pass$'
expect "failing test fails" '^FAIL fixture-fail exit=1$'
expect "test over its timeout fails" '^FAIL fixture-timeout TIMEOUT 2 seconds$'
expect "skipping test is skipped" '^SKIP fixture-skip$'
expect "test leaving devices behind fails" \
	'^FAIL fixture-leak dm devices left behind, loop devices left behind$'
ktap_check "summary counts pass=1 fail=3 skip=1" \
	grep -qx "pass=1 fail=3 skip=1" "$out/summary"
ktap_finished
