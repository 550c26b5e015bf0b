#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 in the test VM after switch_root into the host's root (read-only 9p).
# Reads /run/ccm-results/vm.env written by tools/vm/run.sh, then either runs
# selftests/run_tests.sh (MODE=check) or gives a shell (MODE=shell), and
# powers the VM off.  The run's exit status goes to /run/ccm-results/status.

RES=/run/ccm-results
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-linux} LANG=C.UTF-8
export DM_DISABLE_UDEV=1

poweroff()
{
	sync
	exec /bin/busybox poweroff -f
}
trap poweroff EXIT

# shellcheck source=/dev/null
. "$RES/vm.env" || { echo "ccm-guest-init: no $RES/vm.env"; exit 1; }
export SRCDIR KVER CCM_LONG
export CCM_MODULE=$SRCDIR/build/$KVER/dm-ccm-mirror.ko
export CCM_TOOL=$SRCDIR/tools/ccm-mirror

hostname ccm-vm-"${KVER%%-*}" 2>/dev/null
ip link set lo up 2>/dev/null
# Hung tasks are reported well within a test's timeout.
sysctl -qw kernel.hung_task_timeout_secs="${HUNG_TASK_TIMEOUT:-60}" 2>/dev/null
sysctl -qw kernel.printk="${PRINTK_LEVEL:-5 4 1 7}" 2>/dev/null

read -r up _ < /proc/uptime
echo
echo "ccm-guest-init: $(uname -r) up in ${up}s, MODE=$MODE"
if [ "$(uname -r)" != "$KVER" ]; then
	echo "ccm-guest-init: booted $(uname -r), expected $KVER"
	echo 1 > "$RES/status"
	exit 1
fi

case "$MODE" in
shell)
	echo "ccm-guest-init: kernel $KVER, source tree $SRCDIR (read-only)"
	echo "  module: $CCM_MODULE   (load: . $SRCDIR/selftests/lib.sh; load_module)"
	echo "  run a test: $SRCDIR/selftests/run_tests.sh -o /tmp/r NAME"
	echo "  writable: /tmp /run /root; exit the shell to power off"
	cd /root || true
	setsid -c /bin/bash -l < /dev/ttyS0 > /dev/ttyS0 2>&1
	echo 0 > "$RES/status"
	;;
check)
	# shellcheck disable=SC2086
	"$SRCDIR/selftests/run_tests.sh" -d "${TESTDIR:-$SRCDIR/selftests}" \
		-o "$RES" $TESTS
	echo $? > "$RES/status"
	;;
*)
	echo "ccm-guest-init: unknown MODE '$MODE'"
	echo 1 > "$RES/status"
	;;
esac
