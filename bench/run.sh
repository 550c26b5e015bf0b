#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host side of `make bench`: boots each kernel in QEMU (tools/vm/run.sh)
# with the benchmarks of bench/guest/ instead of the selftests, then writes
# the report: build/<kver>/bench/bench-<kver>.json and .md, and prints the
# Markdown table.
#
# usage: bench/run.sh [-k KVER]... [-T BENCHES] [-q]
#   -k KVER     kernel (repeatable; default: every kernel with headers)
#   -T BENCHES  only these (io, copy, cipher; default: all)
#   -q          quick smoke run: 64 MiB devices, 2 s per fio job
# Environment: QEMU_MEM (default 4G here: up to 2.5 GiB live in brd),
# BENCH_MIB (fio device size, 256), BENCH_ROUNDS (fio rounds, 3),
# BENCH_RUNTIME (s per fio job, 2), BENCH_RAMP (500ms), BENCH_WORKLOADS,
# BENCH_COPY_MIB (plain copy size, 1024), BENCH_COPY_ROUNDS (2),
# BENCH_ENC_COPY_MIB (encrypted copy size, 256), BENCH_CIPHER_SECONDS (3),
# and everything tools/vm/run.sh reads.
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
	*) sed -n '8,13s/^# \?//p' "$0" >&2; exit 2 ;;
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
	: "${BENCH_RUNTIME:=1}" "${BENCH_ROUNDS:=1}" "${BENCH_COPY_ROUNDS:=1}"
	: "${BENCH_CIPHER_SECONDS:=1}"
fi
mkdir -p "$SRCDIR/build/bench-bin"
{
	echo "# written by bench/run.sh; read by bench/guest/bench-lib.sh"
	for v in BENCH_MIB BENCH_COPY_MIB BENCH_ENC_COPY_MIB BENCH_RUNTIME \
		BENCH_RAMP BENCH_ROUNDS BENCH_COPY_ROUNDS BENCH_WORKLOADS \
		BENCH_CIPHER_SECONDS; do
		[ -n "${!v:-}" ] && printf '%s=%q\n' "$v" "${!v}"
	done
} > "$SRCDIR/build/bench-bin/bench.env"

tests=
for b in ${BENCHES//,/ }; do
	tests+=" bench-${b#bench-}"
done

export QEMU_MEM=${QEMU_MEM:-4G}
rc=0
for k in "${KVERS[@]}"; do
	out=$SRCDIR/build/$k/bench
	"$SRCDIR/tools/vm/run.sh" -k "$k" -d "$SRCDIR/bench/guest" \
		-T "${tests# }" -o "$out"
	r=$?
	[ $r -gt $rc ] && rc=$r
	if [ -s "$out/bench.jsonl" ]; then
		python3 "$SRCDIR/bench/report.py" --kver "$k" \
			--json "$out/bench-$k.json" --md "$out/bench-$k.md" \
			"$out/bench.jsonl" || rc=1
		echo
		cat "$out/bench-$k.md"
		echo
	else
		echo "# kernel $k: no benchmark results (see $out/console.log)"
		rc=1
	fi
done
rm -f "$SRCDIR/build/bench-bin/bench.env"
exit $rc
