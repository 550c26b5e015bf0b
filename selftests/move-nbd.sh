#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move onto network block devices (issue #6).  A second network
# namespace joined to the root one by a veth pair runs nbd-server (its own
# config in $SCRATCH, daemonised, no /etc) exporting two files; nbd-client
# attaches them in the root namespace.  A mounted ext4 under a writer,
# with a file of a known marker pattern, is moved plain onto the first
# export (a larger disk: a slice plus a metadata area, over the network),
# then --encrypt onto the second (read from NBD, written to NBD): every
# checksum right after each pivot, fsck clean, the bytes went through the
# veth.  The marker is found in the old disk's backing file and in the
# plain export's backing file on the server (so the check sees plaintext
# where there is some) and nowhere in the encrypted export's backing file,
# which holds the ccm header of the device the client wrote.
# timeout=300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
require_cmd mkfs.ext4 fsck.ext4 md5sum ip nbd-server nbd-client modinfo
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL
K=$SCRATCH/key
head -c 32 /dev/urandom > "$K"
mv_require_encrypt

for m in nbd veth; do
	modinfo "$m" > /dev/null 2>&1 ||
		ktap_skip_all "kernel module $m not available for $KVER"
done
ktap_set_plan 25

NS=ccmnbd$$
VH=cn$$h			# root namespace side of the veth pair
VS=cn$$s			# server side
HOST_IP=10.231.7.1
SRV_IP=10.231.7.2
PORT=10809
CONF=$SCRATCH/nbd-server.conf
PIDF=$SCRATCH/nbd-server.pid
IMG_P=$SCRATCH/export-plain.img	# backing files of the server's exports
IMG_E=$SCRATCH/export-enc.img
_NBD_DEVS=()
_NS_MADE=

# Client first (the dm devices on top are gone by then), then every
# process of the server's namespace (all started here), then the netns
# (which takes the veth pair with it).
nbd_cleanup()
{
	local d p left

	for d in "${_NBD_DEVS[@]}"; do
		nbd-client -d "$d" > /dev/null 2>&1 ||
			log "cleanup: nbd-client -d $d failed"
	done
	[ -n "$_NS_MADE" ] || return 0
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=$(ip netns pids "$NS" 2> /dev/null)
		[ -n "$left" ] || break
		for p in $left; do
			kill "$p" 2> /dev/null
		done
		sleep 0.3
	done
	left=$(ip netns pids "$NS" 2> /dev/null)
	for p in $left; do
		kill -KILL "$p" 2> /dev/null
	done
	ip netns del "$NS" 2> /dev/null || log "cleanup: ip netns del $NS failed"
	ip link del "$VH" 2> /dev/null
	return 0
}
trap '_mv_cleanup; nbd_cleanup' EXIT

# nbd_attach EXPORT BLOCK_SIZE: attach the export to the first free
# /dev/nbdN (netlink; retried while the server starts listening); echoes
# the device.
nbd_attach()
{
	local exp=$1 bs=$2 i d

	for i in $(seq 0 15); do
		[ -e "/sys/block/nbd$i/pid" ] && continue
		[ "$(cat "/sys/block/nbd$i/size" 2> /dev/null)" = 0 ] || continue
		d=/dev/nbd$i
		break
	done
	[ -n "$d" ] || { log "no free /dev/nbdN" >&2; return 1; }
	for i in $(seq 20); do
		if nbd-client "$SRV_IP" "$PORT" "$d" -N "$exp" -b "$bs" -t 30 \
			> "$SCRATCH/nbd-client.out" 2>&1; then
			echo "$d"
			return 0
		fi
		sleep 0.5
	done
	log "$(cat "$SCRATCH/nbd-client.out")" >&2
	return 1
}

# nbd_is DEV BYTES BLOCK_SIZE: connected, that size, that logical block size
nbd_is()
{
	local b=${1##*/}

	[ -e "/sys/block/$b/pid" ] &&
		[ "$(blockdev --getsize64 "$1")" = "$2" ] &&
		[ "$(cat "/sys/block/$b/queue/logical_block_size")" = "$3" ]
}

has_marker() { grep -qaF "$MARK" "$1"; }

# nbd_gone DEV...: disconnected (the kernel drops its pid attribute)
nbd_gone()
{
	local d

	for d in "$@"; do
		for _ in $(seq 50); do
			[ -e "/sys/block/${d##*/}/pid" ] || continue 2
			sleep 0.2
		done
		log "$d still connected: pid $(cat "/sys/block/${d##*/}/pid")"
		return 1
	done
}
# server_gone PID: the server exited (a zombie waiting for init counts),
# the netns is gone and so is the veth pair (freed asynchronously).
server_gone()
{
	local st

	[ -n "$1" ] || return 1
	for _ in $(seq 50); do
		st=$(sed -n 's/^State:[[:space:]]*//p' "/proc/$1/status" 2> /dev/null)
		case $st in
		'' | Z*) ;;
		*) sleep 0.2; continue ;;
		esac
		[ ! -e "/run/netns/$NS" ] && [ ! -e "/sys/class/net/$VH" ] &&
			return 0
		sleep 0.2
	done
	log "server $1: ${st:-gone}; /run/netns: $(ls /run/netns); veth: $(ls -d "/sys/class/net/$VH" 2>&1)"
	return 1
}

tx_bytes() { cat "/sys/class/net/$VH/statistics/tx_bytes"; }

# ---- the network and the server ----
mv_section "network namespace, veth, nbd-server"
modprobe nbd || { log "modprobe nbd failed"; exit 1; }
setup_net()
{
	ip netns add "$NS" &&
		ip link add "$VH" type veth peer name "$VS" netns "$NS" &&
		ip addr add "$HOST_IP/30" dev "$VH" &&
		ip link set "$VH" up &&
		ip -n "$NS" link set lo up &&
		ip -n "$NS" addr add "$SRV_IP/30" dev "$VS" &&
		ip -n "$NS" link set "$VS" up
}
_NS_MADE=1			# (ktap_check runs setup_net in a subshell)
ktap_check "netns $NS and a veth pair $VH <-> $VS, addressed" setup_net

truncate -s 20M "$IMG_P"
truncate -s 18M "$IMG_E"
cat > "$CONF" << EOF
[generic]
listenaddr = $SRV_IP
port = $PORT
[plain]
exportname = $IMG_P
flush = true
fua = true
[enc]
exportname = $IMG_E
flush = true
fua = true
EOF
# (It daemonises: no pipe of ours may stay open in it.)
ktap_check "nbd-server started in the netns (config in \$SCRATCH)" \
	sh -c "ip netns exec '$NS' nbd-server -C '$CONF' -p '$PIDF' > '$SCRATCH/nbd-server.out' 2>&1 < /dev/null || { cat '$SCRATCH/nbd-server.out'; exit 1; }"
for _ in $(seq 20); do
	[ -s "$PIDF" ] && break
	sleep 0.2
done
log "nbd-server pid $(cat "$PIDF" 2> /dev/null), netns pids: $(ip netns pids "$NS" | tr '\n' ' ')"

NP=$(nbd_attach plain 4096) && _NBD_DEVS+=("$NP")
ktap_check "export 'plain' attached over the veth: $NP, 20 MiB, 4 KiB blocks" \
	nbd_is "$NP" 20971520 4096
NE=$(nbd_attach enc 4096) && _NBD_DEVS+=("$NE")
ktap_check "export 'enc' attached over the veth: $NE, 18 MiB, 4 KiB blocks" \
	nbd_is "$NE" 18874368 4096
if [ -z "$NP" ] || [ -z "$NE" ]; then
	log "no NBD devices: nothing to move onto"
	exit 1
fi

# ---- the volume: ext4 with a marker file, under a writer ----
mv_section "volume"
P=$(make_disk 16 4096)
PFILE=$(cat "/sys/block/${P##*/}/loop/backing_file")
mv_vol t-vol "$P"
mkfs.ext4 -q -F /dev/mapper/t-vol
mv_mount t-vol
MARK=ccm-nbd-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
for _ in $(seq 4096); do
	echo "$MARK"
done > "$SCRATCH/marker"
cp "$SCRATCH/marker" "$MNT/marker"
sync
ktap_check "the marker is in the old disk's backing file (plaintext seen)" \
	has_marker "$PFILE"
writer_start
sleep 1

# ---- plain move onto NBD ----
mv_section "plain move onto $NP"
tx0=$(tx_bytes)
expect 0 "plain move onto $NP under load: exit 0" \
	"$T" move t-vol "$NP" --yes --rate 4 --interval 2
log "$(cat "$OUT")"
ktap_check "t-vol is linear on $NP, no hidden device, old disk free" \
	sh -c "[ \"\$(dmsetup table t-vol)\" = '0 32768 linear $(devno "$NP") 0' ] && ! dmsetup ls | grep -q '^t-vol-ccm-' && [ -z \"\$(ls /sys/class/block/${P##*/}/holders)\" ]"
tx1=$(tx_bytes)
ktap_check "the copy went through the veth ($(((tx1 - tx0) / 1024)) KiB sent)" \
	test $((tx1 - tx0)) -ge 16777216
writer_stop
mv_remount
ktap_check "every checksum right, read back over NBD ($WCOUNT files)" \
	sums_verify
sync
ktap_check "the marker is in the plain export's backing file on the server" \
	has_marker "$IMG_P"

# ---- encrypted move from NBD onto NBD ----
mv_section "encrypted move onto $NE"
writer_start
sleep 1
tx0=$(tx_bytes)
"$T" move t-vol "$NE" --encrypt --key-file "$K" --yes --rate 2 \
	--interval 0 > "$SCRATCH/m2" 2>&1 < /dev/null &
_MV_BG=$!
wait_for_status t-vol " ccm-mirror encrypted .* copying " 60
ktap_check "during the move: an encrypted ccm-mirror from $NP to $NE" \
	sh -c "dmsetup table t-vol | grep -Eq ' ccm-mirror [0-9]+:[0-9]+ $(devno "$NE") .* key :32:logon:ccm-mirror:'"
mv_finish t-vol "$SCRATCH/m2"
rc=$?
ktap_check "encrypted move onto $NE under load: exit 0" test $rc = 0
u=$(uuid_of "$NE")
ktap_check "t-vol is \"ccm $NE <key reference>\"" \
	test "$(dmsetup table t-vol)" = "0 32768 ccm $(devno "$NE") :32:logon:ccm-mirror:$u"
ktap_check "no hidden device left, $NP is free" \
	sh -c "! dmsetup ls | grep -q '^t-vol-ccm-' && [ -z \"\$(ls /sys/class/block/${NP##*/}/holders)\" ]"
tx1=$(tx_bytes)
ktap_check "the encrypted copy went through the veth ($(((tx1 - tx0) / 1024)) KiB sent)" \
	test $((tx1 - tx0)) -ge 16777216
ktap_check "the copy state in the header was cleared after the switch" \
	slots_empty "$NE"
writer_stop
mv_remount
ktap_check "every checksum right, read back decrypted over NBD ($WCOUNT files)" \
	sums_verify
ktap_check "the marker file reads back intact" cmp "$SCRATCH/marker" "$MNT/marker"
mv_umount
ktap_check "fsck clean" fsck.ext4 -fn /dev/mapper/t-vol

# ---- what the server holds ----
mv_section "the server's bytes"
ktap_check "the encrypted export's backing file holds the client's ccm format (uuid $u)" \
	test "$("$T" dump "$IMG_E" | awk '$1 == "uuid" { print $2 }')" = "$u"
ktap_check "no plaintext on the server: the marker is not in the encrypted export" \
	sh -c "! grep -qaF '$MARK' '$IMG_E'"
ktap_check "no ext4 superblock magic on the server where the plaintext one would be" \
	sh -c "doff=\$('$T' dump --json '$IMG_E' | sed -n 's/.*\"data_offset\":\([0-9]*\).*/\1/p'); [ -n \"\$doff\" ] && ! dd if='$IMG_E' bs=1 skip=\$((doff * 512 + 1080)) count=2 status=none | od -An -tx1 | grep -q '53 ef'"

# ---- teardown of the client side, checked ----
mv_section "teardown"
key_drop "ccm-mirror:$u"
dm_remove t-vol
ktap_check "nbd-client -d detaches both devices" \
	sh -c "nbd-client -d '$NE' > /dev/null && nbd-client -d '$NP' > /dev/null"
_NBD_DEVS=()
ktap_check "... and they are disconnected" nbd_gone "$NE" "$NP"
spid=$(cat "$PIDF" 2> /dev/null)
nbd_cleanup
_NS_MADE=
ktap_check "nbd-server stopped, netns and veth pair gone" server_gone "$spid"
mv_section "end"
ktap_finished
