#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): always passes.
. "$(dirname "$0")/../lib.sh"
ktap_print_header
ktap_set_plan 1
ktap_test_pass "fixture passes"
ktap_finished
