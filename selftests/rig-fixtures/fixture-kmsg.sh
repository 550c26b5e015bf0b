#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): writes $RIG_KMSG_LINE to the kernel
# log and passes; the runner's dmesg scan must fail it.
. "$(dirname "$0")/../lib.sh"
ktap_print_header
ktap_set_plan 1
ktap_check "write to /dev/kmsg" sh -c 'echo "$RIG_KMSG_LINE" > /dev/kmsg'
ktap_finished
