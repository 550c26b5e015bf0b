#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror move after an interruption at any step, and the machine
# interfaces: hidden devices left by a start or a pivot that were cut
# short, a table load left in the inactive slot of a suspended device,
# SIGTERM, a ccm-mirror mapping made by hand, --json lines.  Raw data on
# the device is compared byte for byte at the end.
# timeout=240
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/move-lib.sh"

ktap_print_header
ktap_set_plan 30
require_cmd python3
load_module || ktap_skip_all "module not loadable"
mv_require_tool
T=$CCM_TOOL

A=$(make_disk 32)
B=$(make_disk 32)
C=$(make_disk 32)
fill_random "$A"
cp "$A" "$SCRATCH/orig.img"
mv_vol t-vol "$A"
orig=$(dmsetup table t-vol)
echo t-fm >> "$_LIB_DM_REG"

# ---- a start cut short: t-vol-ccm-old exists, t-vol unchanged ----
half() { dmsetup create t-vol-ccm-old -u CCM-OLD-t-vol --table "$orig"; }
half
expect_err 0 "no move in progress" "interrupted start: status says no move" \
	"$T" status t-vol
expect_err 6 "start was interrupted" "interrupted start: --pivot refused (6)" \
	"$T" move --pivot t-vol
expect_err 0 "removing t-vol-ccm-old, left by an interrupted start" \
	"interrupted start: move starts over" "$T" move t-vol "$B" --yes --no-pivot
ktap_check "... and the mirror is ready" test "$(mstate t-vol)" = ready

# ---- a pivot cut short after its table load, device suspended ----
dmsetup load t-vol --table "0 65536 linear $B 0" && dmsetup suspend t-vol
expect_err 0 "a table load left by an interrupted ccm-mirror: dropping it" \
	"suspended with a table load: --abort repairs and aborts" \
	"$T" move --abort t-vol
ktap_check "... t-vol is resumed, nothing inactive" \
	sh -c "dmsetup info t-vol | grep -q 'State: *ACTIVE' && ! dmsetup info t-vol | grep -q 'Tables present:.*INACTIVE'"
ktap_check "... the old table is back, no hidden device" \
	sh -c "[ \"\$(dmsetup table t-vol)\" = '$orig' ] && ! dmsetup ls | grep -q t-vol-ccm"
half
expect_err 0 "removed t-vol-ccm-old" "interrupted start: --abort cleans up" \
	"$T" move --abort t-vol
ktap_check "... no hidden device" no_hidden t-vol

# ---- SIGTERM ----
"$T" move t-vol "$B" --yes --rate 1 > "$SCRATCH/bg" 2>&1 < /dev/null &
_MV_BG=$!
wait_for_status t-vol " copying " 20
kill -TERM $_MV_BG
wait $_MV_BG
rc=$?
_MV_BG=
ktap_check "SIGTERM: exit 8, the mirror keeps running" \
	sh -c "[ $rc = 8 ] && dmsetup table t-vol | grep -q ccm-mirror"
expect_err 4 "already being moved to" "another new device while a move runs (4)" \
	"$T" move t-vol "$C" --yes
expect 0 "abort after SIGTERM" "$T" move --abort t-vol

# ---- --json ----
expect 0 "move --json --interval 0.5" \
	"$T" move t-vol "$B" --yes --json --interval 0.5 --rate 16
cp "$OUT" "$SCRATCH/json"
log "$(cat "$SCRATCH/json")"
ktap_check "--json: every stdout line is a JSON object" python3 -c '
import json, sys
keys = {"state", "copied_regions", "total_regions", "percent", "bytes_copied",
        "bytes_total", "speed_bps", "eta_s", "health"}
lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
objs = [json.loads(l) for l in lines]
assert len(objs) >= 3, len(objs)
assert all(keys <= set(o) for o in objs), "missing keys"
assert objs[-2]["state"] == "ready" and objs[-2]["percent"] == 100.0
assert objs[-1]["state"] == "done"
assert objs[-1]["bytes_copied"] == objs[-1]["bytes_total"] == 32 << 20
' "$SCRATCH/json"
ktap_check "--json: human messages went to stderr only" \
	sh -c "! \"$T\" move t-vol \"$C\" --yes --json --dry-run 2> /dev/null | grep -v '^{'"
ktap_check "the move completed: linear on the new disk" \
	test "$(dmsetup table t-vol)" = "0 65536 linear $(devno "$B") 0"

# ---- a pivot cut short before its clean-up ----
pivoted() { dmsetup create t-vol-ccm-old -u CCM-OLD-t-vol --table "$orig"; }
pivoted
expect_err 0 "no move in progress" "interrupted pivot: status says no move" \
	"$T" status t-vol
expect_err 4 "already switched to the new disk" \
	"interrupted pivot: --abort refused (4)" "$T" move --abort t-vol
expect_err 0 "already moved to" "interrupted pivot: move again cleans up" \
	"$T" move t-vol "$B" --yes
ktap_check "... no hidden device" no_hidden t-vol
pivoted
expect_err 0 "removed t-vol-ccm-old" "interrupted pivot: --pivot cleans up" \
	"$T" move --pivot t-vol
ktap_check "... no hidden device" no_hidden t-vol
ktap_check "the data moved intact (byte for byte)" \
	cmp "$SCRATCH/orig.img" /dev/mapper/t-vol

# ---- a ccm-mirror mapping not made by move ----
fill_random "$C" 1
dm_create t-fm "0 65536 ccm-mirror $C $A 8 2 rate 1" || true
expect_err 4 "did not make" "a hand-made mirror: move refused (4)" \
	"$T" move t-fm "$B" --yes
expect_err 4 "did not make" "a hand-made mirror: --abort refused (4)" \
	"$T" move --abort t-fm
expect_err 0 "moving onto" "a hand-made mirror: status works" "$T" status t-fm
expect 0 "a hand-made mirror: pause works" "$T" pause t-fm
expect_err 0 "rate limit set.*rate limit 7" "a hand-made mirror: rate works" \
	"$T" rate t-fm 7
dm_remove t-fm
expect_err 0 "moved to" "the data goes home (move back, no slice)" \
	"$T" move t-vol "$A" --yes
ktap_check "the data is intact after all of it" \
	cmp "$SCRATCH/orig.img" /dev/mapper/t-vol
ktap_finished
