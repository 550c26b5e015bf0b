#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Rig self-test: kernel log lines that must turn a run red do so.
# End to end: a fixture writes a "WARNING:" line to /dev/kmsg in a nested
# run of the runner, which must fail that fixture (and only it) and print
# the line; the nested runner consumes (dmesg -c) the line, so this test
# stays green.  The other kinds of report are checked against the runner's
# pattern (run_tests.sh -p), as are innocent lines that must not match.
. "$(dirname "$0")/lib.sh"

bad=(
	"BUG: unable to handle page fault for address: ffffc90000000000"
	"Oops: 0000 [#1] PREEMPT SMP NOPTI"
	"general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] PREEMPT SMP"
	"WARNING: possible circular locking dependency detected"
	"WARNING: possible recursive locking detected"
	"WARNING: inconsistent lock state"
	"INFO: task kworker/0:1:42 blocked for more than 120 seconds."
	"BUG: KASAN: slab-use-after-free in ccm_mirror_map+0x10/0x20"
	"UBSAN: shift-out-of-bounds in drivers/md/dm-ccm-mirror-target.c:12:3"
	"kernel BUG at drivers/md/dm-ccm-mirror-target.c:100!"
	"watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [kworker/1:1:40]"
	"rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:"
	"refcount_t: underflow; use-after-free."
	"list_add corruption. prev->next should be next (ffff888003a0c1c8)"
)
good=(
	"device-mapper: ioctl: 4.47.0-ioctl (2022-07-28) initialised: dm-devel@redhat.com"
	"dm_ccm_mirror: loading out-of-tree module taints kernel."
	"Buffer I/O error on dev dm-0, logical block 0, async page read"
	"device-mapper: ccm-mirror: secondary write error, mirror failed"
)

ktap_print_header
ktap_set_plan 3

out=$SCRATCH/nested
line="WARNING: CPU: 0 PID: 1 at drivers/md/dm-ccm-mirror-rig.c:1 rig_fixture+0x0/0x10"
tap=$(RIG_KMSG_LINE=$line "$SRCDIR/selftests/run_tests.sh" \
	-d "$SRCDIR/selftests/rig-fixtures" -o "$out" \
	fixture-pass fixture-kmsg fixture-pass 2>&1)
rc=$?
res=$(< "$out/results.txt")
if [ $rc -ne 0 ] &&
   [ "$res" = $'PASS fixture-pass\nFAIL fixture-kmsg kernel log errors\nPASS fixture-pass' ] &&
   [[ $tap == *"# dmesg: "*"$line"* ]]; then
	ktap_test_pass "a WARNING: in the kernel log fails the test that caused it"
else
	log "$tap"
	log "results: $res"
	ktap_test_fail "a WARNING: in the kernel log fails the test that caused it (rc=$rc)"
fi

re=$("$SRCDIR/selftests/run_tests.sh" -p)
missed=0
for l in "${bad[@]}"; do
	[[ $l =~ $re ]] || { log "not caught: $l"; missed=1; }
done
if [ $missed = 0 ]; then
	ktap_test_pass "runner catches ${#bad[@]} kinds of kernel reports"
else
	ktap_test_fail "runner catches ${#bad[@]} kinds of kernel reports"
fi

wrong=0
for l in "${good[@]}"; do
	[[ $l =~ $re ]] && { log "caught by mistake: $l"; wrong=1; }
done
if [ $wrong = 0 ]; then
	ktap_test_pass "runner ignores ordinary kernel messages"
else
	ktap_test_fail "runner ignores ordinary kernel messages"
fi
ktap_finished
