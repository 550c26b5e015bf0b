#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror plain mode: pause/resume messages, the rate limit changed at
# runtime, events raised on state changes, and message errors.  Functional
# checks only (no timing assertions beyond "still running after N s").
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mirror-lib.sh"

ktap_print_header
ktap_set_plan 10
load_module || ktap_skip_all "module not loadable"

P=$(make_disk 64)
S=$(make_disk 64)
fill_random "$P"
dm_create t-m "$(mirror_table "$P" "$S" 256 rate 2)"

sleep 3
c1=$(mirror_copied t-m)
ktap_check "at 2 MiB/s the copy is still running after 3 s ($c1 regions)" \
	test "$(mirror_state t-m)" = copying -a "$c1" -lt "$(mirror_total t-m)"
ktap_check "status shows the rate limit" test "$(dm_field t-m 8)" = 2

ev=$(dm_events t-m)
dmsetup message t-m 0 pause
ktap_check "pause: state paused" test "$(mirror_state t-m)" = paused
ktap_check "pause raised an event" wait_for_events t-m "$ev"
sleep 0.5
a=$(mirror_copied t-m)
sleep 1
b=$(mirror_copied t-m)
ktap_check "nothing copied while paused ($a -> $b)" test "$a" = "$b"
ktap_check "TABLE of a paused mirror says start_paused" \
	grep -q "start_paused" <<< "$(dmsetup table t-m)"

dmsetup message t-m 0 resume
dmsetup message t-m 0 rate 0
ev=$(dm_events t-m)
ktap_check "rate 0 (unlimited) reaches ready" wait_ready t-m 60
ktap_check "ready raised an event" wait_for_events t-m "$ev"
ktap_check "secondary equals primary" devs_equal "$P" "$S"

bad=0
for m in "rate abc" "rate -1" "parallel 0" "parallel 65" "frobnicate" \
	"pause now" ""; do
	# shellcheck disable=SC2086
	if dmsetup message t-m 0 $m > /dev/null 2>&1; then
		log "message '$m' accepted"
		bad=1
	fi
done
ktap_check "bad messages refused" test $bad = 0
ktap_finished
