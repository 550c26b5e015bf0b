#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VM reset test, boot 1, encrypted mode (see phase1.sh and common.sh).
MODE=encrypted exec "$(dirname "$0")/phase1.sh"
