#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Rig smoke test: the module built for this kernel loads, registers the
# ccm-mirror and ccm targets, and unloads.
. "$(dirname "$0")/lib.sh"

ktap_print_header
ktap_set_plan 5
log "kernel $(uname -r), module $CCM_MODULE"
ktap_check "module built for $KVER" test -f "$CCM_MODULE"
ktap_check "vermagic matches the running kernel" \
	sh -c '[ "$(modinfo -F vermagic "$CCM_MODULE" | cut -d" " -f1)" = "$(uname -r)" ]'
ktap_check "module loads" load_module
targets=$(dmsetup targets 2>&1)
log "$targets"
ktap_check "dmsetup targets lists ccm-mirror" grep -qE '^ccm-mirror[[:space:]]' <<< "$targets"
ktap_check "dmsetup targets lists ccm" grep -qE '^ccm[[:space:]]' <<< "$targets"
unload_module
ktap_finished
