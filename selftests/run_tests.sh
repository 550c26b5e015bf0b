#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest-side selftest runner (kselftest style).  Runs each test with its
# timeout, scans dmesg after each test and checks that no dm or loop device
# was left behind; prints TAP 13.
#
# usage: run_tests.sh [-d TESTDIR] [-o RESULTSDIR] [-l|-p] [TEST...]
#   TEST        name with or without .sh (default: every TESTDIR/*.sh except
#               run_tests.sh and *lib.sh helper libraries, in sorted order);
#               $TESTS is used when no TEST argument is given (space or comma
#               separated)
#   -d TESTDIR  directory holding the tests and `settings` (default: here)
#   -o DIR      write results there: results.txt (PASS|FAIL|SKIP name
#               [reason]), summary, <name>.log, <name>.dmesg, pre.dmesg
#   -l          list the tests with their timeouts and exit
#   -p          print the regex of kernel log lines that fail a test
# Timeout: `timeout=N` in TESTDIR/settings; a test may override it with a
# line `# timeout=N` in its first 20 lines.
# Exit status: 0 if no test failed, 1 otherwise.

case $0 in
*/*) HERE=$(cd "${0%/*}" && pwd) ;;
*) HERE=$PWD ;;
esac
TESTDIR=$HERE
OUT=
LIST=0
while getopts "d:o:lp" opt; do
	case $opt in
	d) TESTDIR=$(cd "$OPTARG" && pwd) || exit 2 ;;
	o) OUT=$OPTARG ;;
	l) LIST=1 ;;
	p) LIST=2 ;;
	*) sed -n '5,20s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

export DM_DISABLE_UDEV=1
export SRCDIR=${SRCDIR:-$(cd "$HERE/.." && pwd)}
read -r osrelease < /proc/sys/kernel/osrelease
export KVER=${KVER:-$osrelease}
export CCM_MODULE=${CCM_MODULE:-$SRCDIR/build/$KVER/dm-ccm-mirror.ko}
export CCM_TOOL=${CCM_TOOL:-$SRCDIR/tools/ccm-mirror}

# Kernel log lines that fail the test that was running.
DMESG_BAD='WARNING:|BUG:|Oops|general protection|possible circular locking'
DMESG_BAD+='|possible recursive locking|inconsistent lock state|hung_task'
DMESG_BAD+='|blocked for more than|KASAN|UBSAN|kernel BUG|Kernel panic'
DMESG_BAD+='|list_add corruption|list_del corruption|refcount_t:'
DMESG_BAD+='|soft lockup|hard LOCKUP|detected stalls? on CPU|self-detected stall'
DMESG_BAD+='|suspicious RCU usage|stack-protector|Unable to handle kernel'

default_timeout=120
if [ -f "$TESTDIR/settings" ]; then
	while IFS= read -r line; do
		[[ $line =~ ^timeout=([0-9]+)$ ]] && default_timeout=${BASH_REMATCH[1]}
	done < "$TESTDIR/settings"
fi

tests=()
if [ $# -eq 0 ] && [ -n "${TESTS:-}" ]; then
	# shellcheck disable=SC2086
	set -- ${TESTS//,/ }
fi
if [ $# -eq 0 ]; then
	for f in "$TESTDIR"/*.sh; do
		case ${f##*/} in
		*lib.sh | run_tests.sh) ;;
		*) [ -f "$f" ] && tests+=("${f##*/}") ;;
		esac
	done
else
	# shellcheck disable=SC2048
	for n in ${*//,/ }; do
		n=${n##*/}
		n=${n%.sh}.sh
		tests+=("$n")
	done
fi

if [ $LIST = 2 ]; then
	echo "$DMESG_BAD"
	exit 0
fi

# Builtins only where possible: every exec costs 0.1-0.3 s under TCG.
test_timeout()
{
	local line i=0 re='^# *timeout=([0-9]+)'

	while [ $i -lt 20 ] && IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			echo "${BASH_REMATCH[1]}"
			return
		fi
		i=$((i + 1))
	done < "$1"
	echo "$default_timeout"
}

if [ $LIST = 1 ]; then
	for name in "${tests[@]}"; do
		if [ -f "$TESTDIR/$name" ]; then
			echo "$name $(test_timeout "$TESTDIR/$name")"
		else
			echo "$name 0"
		fi
	done
	exit 0
fi

if [ -n "$OUT" ]; then
	mkdir -p "$OUT"
	: > "$OUT/results.txt"
else
	OUT=$(mktemp -d /tmp/ccm-results.XXXXXX)
fi
SCRATCH_BASE=$(mktemp -d /tmp/ccm-scratch.XXXXXX)


result()
{
	# result PASS|FAIL|SKIP NAME [REASON]
	echo "$*" >> "$OUT/results.txt"
}

# Anything logged before the first test (boot, or the enclosing test when
# nested) is saved and reported, but fails no test.
dmesg -c > "$OUT/pre.dmesg" 2> /dev/null
if grep -Eq -- "$DMESG_BAD" "$OUT/pre.dmesg"; then
	echo "# note: kernel log before the first test has suspicious lines:"
	grep -E -- "$DMESG_BAD" "$OUT/pre.dmesg" | head -n 20 | sed 's/^/# pre-dmesg: /'
fi

echo "TAP version 13"
echo "1..${#tests[@]}"
n=0
npass=0
nfail=0
nskip=0
for name in "${tests[@]}"; do
	n=$((n + 1))
	base=${name%.sh}
	path=$TESTDIR/$name
	tap="selftests: dm-ccm-mirror: $name"
	echo "# $tap"
	echo "$base" > "$OUT/current"
	if [ ! -f "$path" ]; then
		echo "# no such test: $path"
		echo "not ok $n $tap # no such test"
		result FAIL "$base" "no such test"
		nfail=$((nfail + 1))
		continue
	fi
	if [ ! -x "$path" ]; then
		echo "# $path is not executable (chmod +x)"
		echo "not ok $n $tap # not executable"
		result FAIL "$base" "not executable"
		nfail=$((nfail + 1))
		continue
	fi
	tmo=$(test_timeout "$path")
	echo "# timeout set to $tmo"
	scratch=$SCRATCH_BASE/$base
	[ -e "$scratch" ] && rm -rf "$scratch"
	mkdir "$scratch"
	log=$OUT/$base.log
	echo "ccm-selftest: start $base" > /dev/kmsg
	start=$SECONDS

	# timeout(1) puts the test in its own process group (pgid = $pid).
	(cd "$scratch" && SCRATCH=$scratch exec timeout -k 10 "$tmo" "$path") \
		> "$log" 2>&1 < /dev/null &
	pid=$!
	tail -s 0.2 --pid=$pid -n +1 -f "$log" 2> /dev/null | sed -u 's/^/# /' &
	tailer=$!
	# Watchdog: a test that even survives SIGKILL is stuck in the kernel.
	(sleep $((tmo + 30)) && : > "$scratch.stuck" && kill -KILL $pid) \
		> /dev/null 2>&1 &
	watchdog=$!
	wait $pid
	rc=$?
	kill $watchdog 2> /dev/null
	wait $tailer 2> /dev/null
	# Kill stragglers the test left in its process group.
	kill -KILL -- -$pid 2> /dev/null
	elapsed=$((SECONDS - start))

	reason=
	if [ -e "$scratch.stuck" ]; then
		rm -f "$scratch.stuck"
		reason="TIMEOUT $tmo seconds, unkillable (stuck in the kernel)"
		echo "# tasks in D state:"
		echo w > /proc/sysrq-trigger 2> /dev/null
		for p in /proc/[0-9]*; do
			read -r st 2> /dev/null < "$p/stat" || continue
			st=${st##*) }
			[ "${st%% *}" = D ] || continue
			echo "# D: ${p#/proc/} $(tr '\0' ' ' < "$p/cmdline" | head -c 120)"
			sed 's/^/#    /' "$p/stack" 2> /dev/null
		done
	elif [ $rc = 124 ] || [ $rc = 137 ] && [ $elapsed -ge "$tmo" ]; then
		reason="TIMEOUT $tmo seconds"
	elif [ $rc = 4 ]; then
		reason=SKIP
	elif [ $rc != 0 ]; then
		reason="exit=$rc"
	fi

	# Kernel log of this test (read and cleared).
	kmsg=$(dmesg -c 2> /dev/null)
	printf '%s\n' "$kmsg" > "$OUT/$base.dmesg"
	if [[ $kmsg =~ $DMESG_BAD ]]; then
		echo "# kernel log of $base has errors:"
		grep -E -- "$DMESG_BAD" "$OUT/$base.dmesg" | head -n 20 | sed 's/^/# dmesg: /'
		echo "# first report in context:"
		grep -E -m 1 -A 40 -- "$DMESG_BAD" "$OUT/$base.dmesg" | sed 's/^/# dmesg| /'
		[ "$reason" = SKIP ] && reason=
		reason="${reason:+$reason, }kernel log errors"
	fi

	# Leftovers: every test must remove what it created.  (Globs first:
	# dmsetup and losetup are slow to start under TCG.)
	if compgen -G '/sys/block/dm-*' > /dev/null; then
		echo "# dm devices left behind:"
		dmsetup ls 2>&1 | sed 's/^/#   /'
		dmsetup remove_all --force > /dev/null 2>&1
		[ "$reason" = SKIP ] && reason=
		reason="${reason:+$reason, }dm devices left behind"
	fi
	if compgen -G '/sys/block/loop*/loop/backing_file' > /dev/null; then
		echo "# loop devices left behind:"
		losetup -a 2>&1 | sed 's/^/#   /'
		losetup -D 2> /dev/null
		[ "$reason" = SKIP ] && reason=
		reason="${reason:+$reason, }loop devices left behind"
	fi
	rm -rf "$scratch"

	echo "# $base: ${elapsed}s"
	if [ -z "$reason" ]; then
		echo "ok $n $tap"
		result PASS "$base"
		npass=$((npass + 1))
	elif [ "$reason" = SKIP ]; then
		echo "ok $n $tap # SKIP"
		result SKIP "$base"
		nskip=$((nskip + 1))
	else
		echo "not ok $n $tap # $reason"
		result FAIL "$base" "$reason"
		nfail=$((nfail + 1))
	fi
done
rm -f "$OUT/current"
rm -rf "$SCRATCH_BASE"

echo "# Totals: pass:$npass fail:$nfail xfail:0 xpass:0 skip:$nskip error:0"
echo "pass=$npass fail=$nfail skip=$nskip" > "$OUT/summary"
[ $nfail -eq 0 ]
