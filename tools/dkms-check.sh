#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side check of the packaging (TAP 13 on standard output): dkms.conf
# and the Makefile's dkms-install, dkms-uninstall and install targets.
# Everything happens in private temporary trees; the system's dkms tree
# (/var/lib/dkms), /usr/src and /lib/modules/<kver> are left alone (and
# checked to be).
#
# usage: tools/dkms-check.sh [-k KVER]... [-v]
#   -k KVER   kernel to build for (repeatable; default: every kernel with
#             headers in /lib/modules/*/build)
#   -v        show the output of make and dkms
# Checks:
#   - dkms.conf names dm-ccm-mirror, its version is the CLI's
#     (CCM_MIRROR_VERSION in tools/ccm-mirror.c);
#   - `make dkms-install` with dkms --dkmstree/--sourcetree/--installtree
#     in the temporary directory: dkms builds and installs the module for
#     each kernel (its source laid out by `make dkms-source`: what a
#     package ships, without tools/ or build/), signed with a throwaway key;
#     per kernel: the installed module has that kernel's vermagic, dkms
#     status says installed;
#   - `make dkms-uninstall` removes the modules and the source;
#   - per kernel, `make install DESTDIR=<tmp> KVER=<kver>`: the module in
#     lib/modules/<kver>/updates/ with that vermagic, no depmod run; the
#     CLI in usr/local/sbin (it runs) and its man page in
#     usr/local/share/man/man8.
# Exit status: 0 all passed, 1 something failed, 4 skipped (not root, or
# no dkms: tools/install-deps.sh).
set -u

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
KVERS=()
V=0
while getopts "k:v" opt; do
	case $opt in
	k) KVERS+=("$OPTARG") ;;
	v) V=1 ;;
	*) sed -n '10,13s/^# \?//p' "$0" >&2; exit 2 ;;
	esac
done
if [ ${#KVERS[@]} = 0 ]; then
	. "$SRCDIR/tools/vm/kernels.sh"
	mapfile -t KVERS < <(ccm_kernels)
fi

echo "TAP version 13"
skip_all()
{
	echo "1..0 # SKIP $*"
	exit 4
}
[ "$(id -u)" = 0 ] || skip_all "dkms needs root"
command -v dkms > /dev/null || skip_all "no dkms (tools/install-deps.sh)"
[ ${#KVERS[@]} -gt 0 ] || skip_all "no kernel headers in /lib/modules/*/build"

n=0
nfail=0
ok()
{
	n=$((n + 1))
	echo "ok $n $*"
}
not_ok()
{
	n=$((n + 1))
	nfail=$((nfail + 1))
	echo "not ok $n $*"
}
log() { sed 's/^/# /'; }
# check DESC CMD...: one test; CMD's output shown when it fails
check()
{
	local desc=$1 out

	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		[ -n "$out" ] && log <<< "$out"
		not_ok "$desc"
	fi
}

tmp=$(mktemp -d /tmp/ccm-dkms-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
DT=$tmp/dkms			# --dkmstree
ST=$tmp/src			# --sourcetree
IT=$tmp/modules			# --installtree
ROOT=$tmp/root			# DESTDIR of make install
mkdir -p "$DT" "$ST" "$IT" "$ROOT"
for k in "${KVERS[@]}"; do
	mkdir "$IT/$k"		# dkms installs only for kernels it sees there
done
# dkms signs what it builds; without these it would create its key in
# /var/lib/dkms.
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
unset PREFIX DESTDIR KVER

# What must stay untouched: names, sizes and mtimes.
system_state()
{
	local k

	find /var/lib/dkms -printf '%p %s %T@\n' 2> /dev/null
	find /usr/src -maxdepth 1 -printf '%p %T@\n'
	for k in "${KVERS[@]}"; do
		find "/lib/modules/$k" -maxdepth 1 -type f -printf '%p %s %T@\n'
		find "/lib/modules/$k/updates" -printf '%p %s %T@\n' 2> /dev/null
	done | sort
}
system_state > "$tmp/state.before"

# run LOG CMD...: CMD's output into LOG (and shown with -v); its status
run()
{
	local logf=$1 rc

	shift
	if [ $V = 1 ]; then
		"$@" 2>&1 | tee "$logf" | log
		rc=${PIPESTATUS[0]}
	else
		"$@" > "$logf" 2>&1
		rc=$?
	fi
	return "$rc"
}

# ---- dkms.conf ----
conf_vars()
{
	# shellcheck disable=SC1091,SC2034 # variables only; kernelver in it
	(kernelver=KVER; . "$SRCDIR/dkms.conf" &&
		echo "$PACKAGE_NAME $PACKAGE_VERSION ${BUILT_MODULE_NAME[0]} ${BUILT_MODULE_LOCATION[0]}")
}
read -r name version built loc <<< "$(conf_vars)"
cliv=$(sed -n 's/^#define CCM_MIRROR_VERSION "\(.*\)"$/\1/p' "$SRCDIR/tools/ccm-mirror.c")
if [ "$name/$built/$loc" = dm-ccm-mirror/dm-ccm-mirror/build/KVER/ ] &&
	[ -n "$version" ] && [ "$version" = "$cliv" ]; then
	ok "dkms.conf: dm-ccm-mirror $version (the CLI's version), built in build/<kernelver>/"
else
	echo "# dkms.conf: name '$name' version '$version' module '$built' in '$loc'; CLI version '$cliv'"
	not_ok "dkms.conf: dm-ccm-mirror, the CLI's version, built in build/<kernelver>/"
fi

# ---- make dkms-install, in private trees ----
MK=(make -C "$SRCDIR" --no-print-directory)
DKMS_MK=("${MK[@]}" "KVERS=${KVERS[*]}" "DKMS_SRC=$ST/dm-ccm-mirror-$version"
	"DKMS_FLAGS=--dkmstree $DT --sourcetree $ST --installtree $IT --no-depmod")
t0=$SECONDS
if run "$tmp/dkms-install.log" "${DKMS_MK[@]}" dkms-install; then
	ok "make dkms-install: dkms built and installed for ${KVERS[*]} ($((SECONDS - t0))s)"
else
	tail -n 30 "$tmp/dkms-install.log" | log
	for f in "$DT"/dm-ccm-mirror/*/build/make.log; do
		[ -f "$f" ] && { echo "# $f:"; tail -n 30 "$f" | log; }
	done
	not_ok "make dkms-install: dkms built and installed for ${KVERS[*]}"
fi
ls "$ST/dm-ccm-mirror-$version" > "$tmp/src.files" 2>&1
log < "$tmp/src.files"
for k in "${KVERS[@]}"; do
	m=$(find "$IT/$k/updates/dkms" -name 'dm-ccm-mirror.ko*' 2> /dev/null | head -n 1)
	vm=
	[ -n "$m" ] && vm=$(modinfo -F vermagic "$m" 2> /dev/null)
	st=$(dkms status --dkmstree "$DT" --sourcetree "$ST" --installtree "$IT" \
		-m dm-ccm-mirror -v "$version" -k "$k" 2>&1)
	if [ -n "$m" ] && [ "${vm%% *}" = "$k" ] && [[ $st == *": installed"* ]]; then
		ok "dkms: $k: ${m#"$IT/"} installed, vermagic $k, signed by '$(modinfo -F signer "$m")'"
	else
		echo "# module '${m:-none}', vermagic '$vm', dkms status '$st'"
		not_ok "dkms: $k: module installed in updates/dkms with vermagic $k"
	fi
done

# ---- make dkms-uninstall ----
nothing_left()
{
	local left

	left=$(find "$IT" -name 'dm-ccm-mirror.ko*'; ls -d "$DT/dm-ccm-mirror" \
		"$ST/dm-ccm-mirror-$version" 2> /dev/null)
	[ -z "$left" ] || { echo "left: $left"; return 1; }
}
if run "$tmp/dkms-uninstall.log" "${DKMS_MK[@]}" dkms-uninstall; then
	check "make dkms-uninstall: modules, dkms tree and source removed" nothing_left
else
	tail -n 30 "$tmp/dkms-uninstall.log" | log
	not_ok "make dkms-uninstall: modules, dkms tree and source removed"
fi

# ---- make install DESTDIR= ----
for k in "${KVERS[@]}"; do
	m=$ROOT/lib/modules/$k/updates/dm-ccm-mirror.ko
	if run "$tmp/install-$k.log" "${MK[@]}" install "KVER=$k" "DESTDIR=$ROOT" &&
		[ -f "$m" ] && vm=$(modinfo -F vermagic "$m") && [ "${vm%% *}" = "$k" ]; then
		ok "make install DESTDIR: $k: ${m#"$ROOT/"}, vermagic $k"
	else
		tail -n 30 "$tmp/install-$k.log" | log
		not_ok "make install DESTDIR: $k: lib/modules/$k/updates/dm-ccm-mirror.ko"
	fi
done
cli_and_man()
{
	local cli=$ROOT/usr/local/sbin/ccm-mirror man=$ROOT/usr/local/share/man/man8/ccm-mirror.8

	[ -x "$cli" ] && "$cli" --version | grep -q "^ccm-mirror $version " &&
		cmp "$man" "$SRCDIR/Documentation/ccm-mirror.8"
}
check "make install DESTDIR: usr/local/sbin/ccm-mirror (runs: $version), usr/local/share/man/man8/ccm-mirror.8" \
	cli_and_man
(cd "$ROOT" && find . -type f | sort) | log

# ---- the system ----
system_state > "$tmp/state.after"
check "the system's /var/lib/dkms, /usr/src and /lib/modules/<kver> untouched" \
	diff "$tmp/state.before" "$tmp/state.after"

echo "1..$n"
echo "# dkms-check: $((n - nfail)) passed, $nfail failed (${SECONDS}s)"
[ $nfail = 0 ]
