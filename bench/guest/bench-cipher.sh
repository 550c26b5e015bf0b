#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Raw cost of the cipher: the kernel's own AEADs through AF_ALG
# (build/bench-bin/afalg-ccm, from bench/afalg-ccm.c): ccm(aes) with the
# ccm format's construction (13-byte nonce, 24-byte AAD, 16-byte tag,
# AES-256) on 4096- and 512-byte blocks, one and two threads, encryption
# and authenticated decryption; gcm(aes) (what dm-crypt AEAD uses) and
# the drivers the kernel picked, for reference.
# timeout=300
. "$(dirname "$0")/bench-lib.sh"

ktap_print_header
ktap_set_plan 5
require_cmd jq
[ -x "$BENCH_AFALG" ] || ktap_skip_all "$BENCH_AFALG not built (make -C bench)"
modprobe -a algif_aead ccm gcm aesni_intel 2> /dev/null
T=${BENCH_CIPHER_SECONDS:-3}

afalg()
{
	# afalg DESC ARGS...
	local desc=$1 out

	shift
	if out=$("$BENCH_AFALG" -t "$T" -d "$@" 2>&1); then
		bench_emit "$(jq -c --arg t "$BENCH_TEST" '{test: $t, config: "afalg"} + .' <<< "$out")"
		log "$desc: $out"
		ktap_test_pass "$desc"
	else
		log "$out"
		ktap_test_fail "$desc"
	fi
}

afalg "ccm(aes) 4096-byte blocks" -b 4096
afalg "ccm(aes) 512-byte blocks" -b 512
afalg "ccm(aes) 4096-byte blocks, 2 threads" -b 4096 -j 2
afalg "ccm(aes) 512-byte blocks, 2 threads" -b 512 -j 2
afalg "gcm(aes) 4096-byte blocks" -b 4096 -a 'gcm(aes)'
bench_note crypto-drivers "$(awk '/^name/ { n = $3 } /^driver/ { d = $3 } /^priority/ { if (n ~ /^(ccm|gcm|xts|ctr|cbcmac)\(aes\)$|^aes$/) print n "=" d "(" $3 ")" }' /proc/crypto | sort -u | tr '\n' ' ')"
ktap_finished
