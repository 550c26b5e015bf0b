#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of `make bench`: boots each kernel in QEMU (tools/vm/run.sh)
# with the benchmarks of bench/guest/ instead of the selftests, records
# QEMU's CPU time per measured step (bench/cpu-sampler.py), then writes the
# report: build/<kver>/bench/bench-<kver>.json and .md, and prints the
# Markdown tables.
#
# usage: bench/run.sh [-k KVER]... [-T BENCHES] [-q]
#   -k KVER     kernel (repeatable; default: every kernel with headers)
#   -T BENCHES  only these (cipher, copy, io, profile; default: cipher copy
#               io; profile: perf profiles of the steps that miss a target,
#               for Documentation/performance.rst, not a measurement)
#   -q          quick smoke run: small devices, 1 s per fio job, 1 round
# Environment: QEMU_MEM (default 4G here: up to 2.1 GiB live in null_blk),
# BENCH_MIB (fio device size, 128), BENCH_ROUNDS (fio rounds, 4),
# BENCH_RUNTIME (fio job length, 2.5), BENCH_RAMP (0), BENCH_WORKLOADS,
# BENCH_COPY_MIB (plain copy size, 1024), BENCH_COPY_ROUNDS (3),
# BENCH_ENC_COPY_MIB (encrypted copy size, = BENCH_COPY_MIB),
# BENCH_ENC512_MIB (encrypted copy with 512-byte blocks, 128),
# BENCH_LOAD_SECONDS (copy-under-load window, 8), BENCH_CIPHER_SECONDS
# (1.5), and everything tools/vm/run.sh reads.
# The module (make modules-all), the CLI (make tools) and
# build/bench-bin/afalg-ccm (make -C bench) must be built.
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
KVERS=()
BENCHES=
QUICK=0
while getopts "k:T:q" opt; do
	case $opt in
	k) KVERS+=("$OPTARG") ;;
	T) BENCHES=$OPTARG ;;
	q) QUICK=1 ;;
	*) sed -n '10,26s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done
if [ ${#KVERS[@]} = 0 ]; then
	mapfile -t KVERS < <(for d in /lib/modules/*/build/Makefile; do
		[ -f "$d" ] && basename "$(dirname "$(dirname "$d")")"
	done | sort -V)
fi
[ ${#KVERS[@]} -gt 0 ] || { echo "bench: no kernels" >&2; exit 2; }

if [ "$QUICK" = 1 ]; then
	: "${BENCH_MIB:=64}" "${BENCH_COPY_MIB:=128}" "${BENCH_ENC_COPY_MIB:=32}"
	: "${BENCH_ENC512_MIB:=16}" "${BENCH_LOAD_SECONDS:=3}"
	: "${BENCH_RUNTIME:=1}" "${BENCH_ROUNDS:=1}" "${BENCH_COPY_ROUNDS:=1}"
	: "${BENCH_CIPHER_SECONDS:=0.5}"
fi
mkdir -p "$SRCDIR/build/bench-bin"
{
	echo "# written by bench/run.sh; read by bench/guest/bench-lib.sh"
	for v in BENCH_MIB BENCH_COPY_MIB BENCH_ENC_COPY_MIB BENCH_ENC512_MIB \
		BENCH_LOAD_SECONDS BENCH_RUNTIME BENCH_RAMP BENCH_ROUNDS \
		BENCH_COPY_ROUNDS BENCH_WORKLOADS BENCH_CIPHER_SECONDS \
		BENCH_PROFILE_SECONDS; do
		[ -n "${!v:-}" ] && printf '%s=%q\n' "$v" "${!v}"
	done
} > "$SRCDIR/build/bench-bin/bench.env"

tests=
BENCHES=${BENCHES:-cipher copy io}
for b in ${BENCHES//,/ }; do
	tests+=" bench-${b#bench-}"
done

export QEMU_MEM=${QEMU_MEM:-4G}
rc=0
sampler=
trap '[ -n "$sampler" ] && kill "$sampler" 2> /dev/null; exit 130' INT TERM
# The full run's results in build/<kver>/bench/; a partial one (-T) in its
# own directory, so that it never wipes the last full results.
sub=bench
[ "$BENCHES" = "cipher copy io" ] || sub="bench-$(tr ' ,' '--' <<< "$BENCHES")"
[ "$QUICK" = 1 ] && sub+=-quick
for k in "${KVERS[@]}"; do
	out=$SRCDIR/build/$k/$sub
	mkdir -p "$out"
	python3 "$SRCDIR/bench/cpu-sampler.py" "$out" &
	sampler=$!
	"$SRCDIR/tools/vm/run.sh" -k "$k" -d "$SRCDIR/bench/guest" \
		-T "${tests# }" -o "$out"
	r=$?
	[ $r -gt $rc ] && rc=$r
	# The sampler ends with QEMU (or never saw it start).
	sleep 1
	kill "$sampler" 2> /dev/null
	wait "$sampler" 2> /dev/null
	sampler=
	if compgen -G "$out/profile-*.txt" > /dev/null; then
		python3 "$SRCDIR/bench/profile.py" "$out" || rc=1
		echo
		cat "$out/profile.txt"
	fi
	if [ -s "$out/bench.jsonl" ]; then
		python3 "$SRCDIR/bench/report.py" --kver "$k" \
			--cpu "$out/cpu-marks.txt" --seconds "$out/vm-seconds" \
			--json "$out/bench-$k.json" --md "$out/bench-$k.md" \
			--rst "$out/bench-$k.rst" \
			"$out/bench.jsonl" || rc=1
		echo
		cat "$out/bench-$k.md"
		echo
	elif [ ! -s "$out/profile.txt" ]; then
		echo "# kernel $k: no benchmark results (see $out/console.log)"
		rc=1
	fi
done
rm -f "$SRCDIR/build/bench-bin/bench.env"
exit $rc
