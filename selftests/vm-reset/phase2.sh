#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VM reset test, second boot: the mirror created again on the same disk
# resumes from its committed progress and ends equal.
. "$(dirname "$0")/common.sh"

ktap_print_header
ktap_set_plan 3
dm_create t-m "$(mirror_tbl)"
carried=$(dm_field t-m 14)
log "after the reset: $(dmsetup status t-m)"
ktap_check "progress carried over the reset ($carried regions)" \
	test "$carried" -gt 0
ktap_check "copy reaches ready" wait_ready t-m 120
ktap_check "secondary equals primary" \
	secondary_equal
ktap_finished
