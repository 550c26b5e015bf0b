#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel installed on this host in QEMU (TCG) with the host's root
# mounted read-only over 9p, and run the selftests in it (or give a shell).
#
# usage: tools/vm/run.sh [-k KVER] [-m check|shell] [-T TESTS] [-d TESTDIR]
#                        [-o OUTDIR] [-t VM_TIMEOUT_S] [-v]
#   -k KVER     kernel release (default: newest /lib/modules/*/build)
#   -m MODE     check (default): run selftests/run_tests.sh [TESTS]
#               shell: interactive shell on the serial console (^A x quits)
#   -T TESTS    test names, space or comma separated (default: all)
#   -d TESTDIR  test directory (default: selftests/)
#   -o OUTDIR   results + console.log (default: build/KVER/results)
#   -t SECS     kill the VM after SECS (default: 150 + sum of the tests'
#               timeouts + 30 s each).  The VM is also killed as hung when
#               no test starts within BOOT_TIMEOUT (180) s, when a test runs
#               STALL_GRACE (60) s past its timeout, or STALL_GRACE s after
#               the last test ended without a result.
#   -v          show the whole console, not just the runner's TAP
# Exit status: 0 all tests passed/skipped, 1 a test failed, 2 the VM died
# or did not report, 3 the VM was killed at the timeout; OUTDIR/vm-status
# says which (passed, failed, crashed, timeout).
# Environment: QEMU_MEM (2G), QEMU_SMP (2), QEMU_EXTRA (more qemu args),
# APPEND_EXTRA (more kernel command line),
# HUNG_TASK_TIMEOUT (guest kernel.hung_task_timeout_secs, 60), BOOT_TIMEOUT,
# STALL_GRACE (see -t).
set -u

SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)
KVER=
MODE=check
TESTS=${TESTS:-}
TESTDIR=$SRCDIR/selftests
OUTDIR=
VM_TIMEOUT=
VERBOSE=${V:-0}
while getopts "k:m:T:d:o:t:v" opt; do
	case $opt in
	k) KVER=$OPTARG ;;
	m) MODE=$OPTARG ;;
	T) TESTS=$OPTARG ;;
	d) TESTDIR=$(cd "$OPTARG" && pwd) || exit 2 ;;
	o) OUTDIR=$OPTARG ;;
	t) VM_TIMEOUT=$OPTARG ;;
	v) VERBOSE=1 ;;
	*) sed -n '6,23s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done

if [ -z "$KVER" ]; then
	. "$SRCDIR/tools/vm/kernels.sh"
	KVER=$(ccm_kernels | tail -n 1)
fi
KERNEL=/boot/vmlinuz-$KVER
if [ -z "$KVER" ] || [ ! -r "$KERNEL" ]; then
	echo "run.sh: no kernel image $KERNEL (apt-get install linux-image-$KVER)" >&2
	exit 2
fi
case $SRCDIR in
*[[:space:]]* | *,*)
	echo "run.sh: the source path '$SRCDIR' must not contain spaces or commas" >&2
	exit 2 ;;
esac

BUILD=$SRCDIR/build/$KVER
OUTDIR=${OUTDIR:-$BUILD/results}
mkdir -p "$BUILD"
OUTDIR=$(mkdir -p "$OUTDIR" && cd "$OUTDIR" && pwd)

# Initramfs, rebuilt when its inputs change.
INITRD=$BUILD/initramfs.cpio
if [ ! -s "$INITRD" ] || [ "$SRCDIR/tools/vm/init" -nt "$INITRD" ] ||
   [ "$SRCDIR/tools/vm/mkinitramfs.sh" -nt "$INITRD" ] ||
   [ "/lib/modules/$KVER/modules.dep" -nt "$INITRD" ]; then
	"$SRCDIR/tools/vm/mkinitramfs.sh" "$KVER" "$INITRD" || exit 2
fi

# Fresh results directory, exported writable to the guest.
find "$OUTDIR" -mindepth 1 -delete
{
	printf 'SRCDIR=%q\nKVER=%q\nMODE=%q\nTESTS=%q\nTESTDIR=%q\n' \
		"$SRCDIR" "$KVER" "$MODE" "$TESTS" "$TESTDIR"
	printf 'HUNG_TASK_TIMEOUT=%q\n' "${HUNG_TASK_TIMEOUT:-60}"
	printf 'CCM_LONG=%q\n' "${CCM_LONG:-0}"
} > "$OUTDIR/vm.env"

# Per-test timeouts (for the stall watchdog) and the VM's overall limit.
declare -A TMO
sum=150
while read -r name t; do
	TMO[${name%.sh}]=$t
	sum=$((sum + t + 30))
done < <(TESTS=$TESTS "$SRCDIR/selftests/run_tests.sh" -d "$TESTDIR" -l)
VM_TIMEOUT=${VM_TIMEOUT:-$sum}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-180}
STALL_GRACE=${STALL_GRACE:-60}

APPEND="console=ttyS0 panic=-1 log_buf_len=8M no_timer_check quiet"
APPEND+=" ccmrig.src=$SRCDIR ${APPEND_EXTRA:-}"
# shellcheck disable=SC2054
QEMU=(qemu-system-x86_64 -accel tcg -cpu max -m "${QEMU_MEM:-2G}"
	-smp "${QEMU_SMP:-2}" -nographic -no-reboot -nic none
	-pidfile "$OUTDIR/qemu.pid"
	-kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND"
	-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
	-virtfs "local,path=$SRCDIR,mount_tag=src,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$OUTDIR,mount_tag=results,security_model=none,multidevs=remap")
# shellcheck disable=SC2206
[ -n "${QEMU_EXTRA:-}" ] && QEMU+=($QEMU_EXTRA)

if [ "$MODE" = shell ]; then
	echo "run.sh: booting $KVER (quit: exit the shell, or ^A x)"
	"${QEMU[@]}"
	exit 0
fi

CONSOLE=$OUTDIR/console.log
# Show the runner's output; kernel printk lines only with -v / V=1.
show()
{
	if [ "$VERBOSE" = 1 ]; then
		cat
	else
		awk '/TAP version 13$/ && !on { on = 1; $0 = "TAP version 13" }
		     /^ccm-/ || (on && !/^\[ *[0-9]+\.[0-9]+\]/) { print; fflush() }'
	fi
}

echo "# kernel $KVER: booting VM (timeout ${VM_TIMEOUT}s, console: ${CONSOLE#"$SRCDIR"/})"
start=$SECONDS
# --foreground: QEMU stays in our process group, so ^C or a kill of the
# caller's group stops it too.
trap 'kill "$(cat "$OUTDIR/qemu.pid" 2> /dev/null)" 2> /dev/null; exit 130' INT TERM
(
	timeout --foreground -k 10 "$VM_TIMEOUT" "${QEMU[@]}" < /dev/null 2>&1
	echo $? > "$OUTDIR/qemu-rc"
	times > "$OUTDIR/qemu-times"
) | sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' -e 's/\x1bc//g' |
	tee "$CONSOLE" | show &
vm_pid=$!

# Watchdog on the guest's progress ($OUTDIR/current names the running test,
# results.txt grows as tests end): kill a guest that stopped making progress.
stall=
last_change=$start
last_sig=
while :; do
	read -r st 2> /dev/null < "/proc/$vm_pid/stat" || break
	st=${st##*) }
	[ "${st%% *}" = Z ] && break
	sleep 2
	[ -f "$OUTDIR/status" ] && continue
	now=$SECONDS
	cur=$(cat "$OUTDIR/current" 2> /dev/null)
	sig="$cur $(stat -c %Y "$OUTDIR/current" "$OUTDIR/results.txt" 2> /dev/null | tr '\n' ' ')"
	if [ "$sig" != "$last_sig" ]; then
		last_sig=$sig
		last_change=$now
	fi
	if [ ! -f "$OUTDIR/results.txt" ]; then
		[ $((now - start)) -gt "$BOOT_TIMEOUT" ] &&
			stall="no test started within ${BOOT_TIMEOUT}s of boot"
	elif [ -n "$cur" ]; then
		limit=$((${TMO[$cur]:-120} + STALL_GRACE))
		[ $((now - last_change)) -gt $limit ] &&
			stall="test $cur still running ${limit}s after it started (timeout + ${STALL_GRACE}s)"
	elif [ $((now - last_change)) -gt "$STALL_GRACE" ]; then
		stall="no result ${STALL_GRACE}s after the last test ended"
	fi
	if [ -n "$stall" ]; then
		kill "$(cat "$OUTDIR/qemu.pid" 2> /dev/null)" 2> /dev/null
		break
	fi
done
wait $vm_pid
qrc=$(cat "$OUTDIR/qemu-rc" 2> /dev/null)
elapsed=$((SECONDS - start))

status=$(cat "$OUTDIR/status" 2> /dev/null)
if [ -n "$stall" ]; then
	vm=timeout
	rc=3
	echo "# kernel $KVER: VM TIMEOUT: killed after ${elapsed}s: guest hung: $stall"
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	vm=timeout
	rc=3
	echo "# kernel $KVER: VM TIMEOUT: killed after ${elapsed}s (limit ${VM_TIMEOUT}s)"
elif [ -z "$status" ]; then
	vm=crashed
	rc=2
	echo "# kernel $KVER: VM CRASHED: qemu exited ($qrc) after ${elapsed}s without a result"
elif [ "$status" = 0 ]; then
	vm=passed
	rc=0
else
	vm=failed
	rc=1
fi
if [ $rc -ge 2 ]; then
	[ -f "$OUTDIR/current" ] &&
		echo "# kernel $KVER: test running at that point: $(cat "$OUTDIR/current")"
	echo "# kernel $KVER: last 40 lines of $CONSOLE:"
	tail -n 40 "$CONSOLE" | sed 's/^/#   /'
fi
echo "$vm" > "$OUTDIR/vm-status"
echo "$elapsed" > "$OUTDIR/vm-seconds"
# CPU time QEMU used (user+sys), to compare with wall time.
cpu=$(awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%d", s }' \
	<(tail -n 1 "$OUTDIR/qemu-times" 2> /dev/null))
echo "# kernel $KVER: VM $vm in ${elapsed}s (QEMU CPU ${cpu:-?}s)"
exit $rc
