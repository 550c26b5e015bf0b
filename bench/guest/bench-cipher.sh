#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# timeout=300
#
# Raw cost of the ciphers: the kernel's own implementations through AF_ALG
# (build/bench-bin/afalg-ccm, from bench/afalg-ccm.c), one request per
# sendmsg + read, at several request sizes so that the fixed cost of a
# request shows apart from the cost per byte:
#  - ccm(aes) with the ccm format's construction (13-byte nonce, 24-byte
#    AAD, 16-byte tag, AES-256) on 512-, 4096- and 65536-byte requests, one
#    and two threads, encryption and authenticated decryption;
#  - its two halves: ctr(aes) (skcipher) and cbcmac(aes) (keyed hash);
#  - gcm(aes) (what dm-crypt AEAD uses) and xts(aes) (dm-crypt) for
#    reference; and the drivers the kernel picked.
# BENCH_CIPHER_SECONDS (1.5) per measurement.
. "$(dirname "$0")/bench-lib.sh"

RUNS=(
	"ccm(aes) 512|-b 512"
	"ccm(aes) 4096|-b 4096 -d"
	"ccm(aes) 65536|-b 65536"
	"ccm(aes) 4096, 2 threads|-b 4096 -j 2"
	"ctr(aes) 4096|-b 4096 -m skcipher -a ctr(aes)"
	"ctr(aes) 65536|-b 65536 -m skcipher -a ctr(aes)"
	"cbcmac(aes) 4096|-b 4096 -m hash -a cbcmac(aes)"
	"cbcmac(aes) 65536|-b 65536 -m hash -a cbcmac(aes)"
	"gcm(aes) 4096|-b 4096 -a gcm(aes)"
	"gcm(aes) 65536|-b 65536 -a gcm(aes)"
	"xts(aes) 4096|-b 4096 -m skcipher -a xts(aes)"
)

ktap_print_header
ktap_set_plan ${#RUNS[@]}
require_cmd jq
[ -x "$BENCH_AFALG" ] || ktap_skip_all "$BENCH_AFALG not built (make -C bench)"
modprobe -a algif_aead algif_skcipher algif_hash ccm gcm ctr xts 2> /dev/null
T=${BENCH_CIPHER_SECONDS:-1.5}

for run in "${RUNS[@]}"; do
	desc=${run%%|*}
	read -ra args <<< "${run#*|}"
	bench_mark B "cipher:1:$desc"
	if out=$("$BENCH_AFALG" -t "$T" "${args[@]}" 2>&1); then
		bench_mark E "cipher:1:$desc"
		bench_emit "$(jq -c --arg t "$BENCH_TEST" '{test: $t, config: "afalg"} + .' <<< "$out")"
		log "$desc: $out"
		ktap_test_pass "$desc"
	else
		bench_mark E "cipher:1:$desc"
		log "$out"
		ktap_test_fail "$desc"
	fi
done
bench_note_crypto
ktap_finished
