#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ccm-mirror crash recovery in encrypted mode: mirror-powercut.sh with
# MODE=encrypted (copy state in the ccm secondary's header).
# timeout=600
MODE=encrypted exec "$(dirname "$0")/mirror-powercut.sh"
