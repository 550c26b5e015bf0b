#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of `make check`: runs the selftests in a VM per kernel
# (CHECK_JOBS at a time, default 2), runs the host-side checks, and ends with exactly one line
# "N passed, N failed, N skipped" counting every kernel.
#
# usage: tools/vm/check.sh [-k KVER]... [-T TESTS]
#   -k KVER   kernel to test (repeatable; default: every kernel with headers
#             in /lib/modules/*/build)
#   -T TESTS  only these selftests (space or comma separated); the host-side
#             checks run only when no -T is given
# Host-side checks: tools-test (`make -C tools test`, when tools/Makefile
# exists), dkms (tools/dkms-check.sh), rig-hang (a nested VM whose test
# hangs must be killed at its timeout and reported as a failure, with the
# console tail) and, per kernel and mode (plain, encrypted), vm-reset
# (selftests/vm-reset: a VM reset mid-copy, then a second boot must resume
# the copy from disk).
# Environment: CHECK_JOBS (VMs at once, 2), RIG_HANG_TIMEOUT (backstop VM
# timeout of rig-hang, 300 s), and everything tools/vm/run.sh reads.
set -u

SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
KVERS=()
TESTS=${TESTS:-}
while getopts "k:T:" opt; do
	case $opt in
	k) KVERS+=("$OPTARG") ;;
	T) TESTS=$OPTARG ;;
	*) sed -n '6,21s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done
if [ ${#KVERS[@]} = 0 ]; then
	. "$SRCDIR/tools/vm/kernels.sh"
	mapfile -t KVERS < <(ccm_kernels)
fi
if [ ${#KVERS[@]} = 0 ]; then
	echo "check: no kernel headers in /lib/modules/*/build (run tools/install-deps.sh)"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi

pass=0
fail=0
skip=0
failed=()
summary=()
t0=$SECONDS

# One VM per kernel, CHECK_JOBS (2) at a time: a TCG guest keeps about one
# host core busy.  Each VM's output goes to build/KVER/run.out and is shown
# as one block when it ends (with CHECK_JOBS=1, live).
jobs=${CHECK_JOBS:-2}
run_kernel()
{
	local k=$1

	if [ "$jobs" = 1 ]; then
		"$SRCDIR/tools/vm/run.sh" -k "$k" -T "$TESTS" -o "$SRCDIR/build/$k/results" 2>&1 |
			tee "$SRCDIR/build/$k/run.out"
	else
		"$SRCDIR/tools/vm/run.sh" -k "$k" -T "$TESTS" -o "$SRCDIR/build/$k/results" \
			> "$SRCDIR/build/$k/run.out" 2>&1
	fi
}
running=0
for k in "${KVERS[@]}"; do
	[ -r "/boot/vmlinuz-$k" ] || continue
	mkdir -p "$SRCDIR/build/$k"
	rm -f "$SRCDIR/build/$k/run.out"
	echo "# kernel $k: VM started (output: build/$k/run.out)"
	run_kernel "$k" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

for k in "${KVERS[@]}"; do
	res=$SRCDIR/build/$k/results
	if [ ! -r "/boot/vmlinuz-$k" ]; then
		echo "# kernel $k: headers but no /boot/vmlinuz-$k: not tested"
		skip=$((skip + 1))
		summary+=("$k: skipped (no kernel image)")
		continue
	fi
	[ "$jobs" = 1 ] || cat "$SRCDIR/build/$k/run.out"
	p=0 f=0 s=0
	if [ -f "$res/results.txt" ]; then
		while read -r st name reason; do
			case $st in
			PASS) p=$((p + 1)) ;;
			SKIP) s=$((s + 1)) ;;
			*) f=$((f + 1)); failed+=("$k: $name${reason:+ ($reason)}") ;;
			esac
		done < "$res/results.txt"
	fi
	vm=$(cat "$res/vm-status" 2> /dev/null || echo "did not start")
	case $vm in
	passed | failed) ;;
	*)
		f=$((f + 1))
		cur=$(cat "$res/current" 2> /dev/null)
		failed+=("$k: VM $vm${cur:+ during $cur}")
		;;
	esac
	pass=$((pass + p))
	fail=$((fail + f))
	skip=$((skip + s))
	summary+=("$k: $p passed, $f failed, $s skipped (VM $vm, $(cat "$res/vm-seconds" 2> /dev/null || echo 0)s)")
done

host_result()
{
	# host_result NAME RC
	if [ "$2" = 0 ]; then
		pass=$((pass + 1))
		echo "ok - host: $1"
	else
		fail=$((fail + 1))
		failed+=("host: $1")
		echo "not ok - host: $1"
	fi
}

if [ -z "$TESTS" ]; then
	# Userspace tools.
	if [ -f "$SRCDIR/tools/Makefile" ]; then
		echo "# host: make -C tools test"
		make -C "$SRCDIR/tools" test 2>&1 | sed -u 's/^/# tools: /'
		host_result tools-test "${PIPESTATUS[0]}"
	else
		echo "# host: tools/Makefile not there yet: tools-test skipped"
		skip=$((skip + 1))
	fi

	# dkms: the module builds and installs through dkms against every
	# installed kernel's headers (private trees: the system is untouched),
	# and `make install DESTDIR=` lays out module, CLI and man page.
	echo "# host: dkms build and make install"
	ts=$SECONDS
	"$SRCDIR/tools/dkms-check.sh" 2>&1 | sed -u 's/^/# dkms: /'
	rc=${PIPESTATUS[0]}
	echo "# host: dkms: $((SECONDS - ts))s"
	if [ "$rc" = 4 ]; then
		echo "ok - host: dkms # SKIP (not root, no dkms or no headers)"
		skip=$((skip + 1))
	else
		host_result dkms "$rc"
	fi

	# rig-hang: a guest that stops making progress is killed and reported
	# with its console tail.
	k=${KVERS[-1]}
	ts=$SECONDS
	out=$SRCDIR/build/$k/rig-hang
	echo "# host: rig-hang on $k: a hung VM must be killed and reported (expected failure)"
	log=$(STALL_GRACE=5 "$SRCDIR/tools/vm/run.sh" -k "$k" \
		-d "$SRCDIR/selftests/rig-fixtures" -T fixture-pass,fixture-hang \
		-o "$out" -t "${RIG_HANG_TIMEOUT:-300}" 2>&1)
	rc=$?
	why=
	[ $rc = 3 ] || why+=" run.sh exit $rc, not 3;"
	grep -q "VM TIMEOUT: killed after .*guest hung: test fixture-hang" <<< "$log" ||
		why+=" no hang report;"
	grep -q "test running at that point: fixture-hang" <<< "$log" ||
		why+=" hanging test not named;"
	grep -q "^#   .*rig-fixture-hang: hanging now" <<< "$log" ||
		why+=" console tail not shown;"
	grep -qx "PASS fixture-pass" "$out/results.txt" 2> /dev/null ||
		why+=" results before the hang lost;"
	if [ -n "$why" ]; then
		sed 's/^/# rig-hang: /' <<< "$log"
		echo "# rig-hang:$why"
	fi
	echo "# host: rig-hang: $((SECONDS - ts))s"
	[ -z "$why" ]
	host_result rig-hang $?

	# vm-reset: a VM reset (no clean shutdown) in the middle of a copy;
	# the next boot must resume from the committed progress.
	for k in "${KVERS[@]}"; do
		[ -r "/boot/vmlinuz-$k" ] || continue
		for m in plain encrypted; do
			ts=$SECONDS
			echo "# host: vm-reset $m on $k: VM reset mid-copy, the next boot resumes"
			"$SRCDIR/selftests/vm-reset/run-host.sh" "$k" \
				"$SRCDIR/build/$k/vm-reset-$m" "$m"
			host_result "vm-reset $m $k" $?
			echo "# host: vm-reset $m on $k: $((SECONDS - ts))s"
		done
	done
fi

echo "# ---- summary ($((SECONDS - t0))s) ----"
for l in "${summary[@]}"; do
	echo "# $l"
done
for l in "${failed[@]}"; do
	echo "# FAILED: $l"
done
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
