#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): skips.
. "$(dirname "$0")/../lib.sh"
ktap_print_header
ktap_skip_all "fixture always skips"
