#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): one failing subtest.
. "$(dirname "$0")/../lib.sh"
ktap_print_header
ktap_set_plan 2
ktap_test_pass "fixture first subtest passes"
ktap_check "fixture second subtest fails" false
ktap_finished
