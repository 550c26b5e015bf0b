#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# VM reset test, boot 2, encrypted mode (see phase2.sh and common.sh).
MODE=encrypted exec "$(dirname "$0")/phase2.sh"
