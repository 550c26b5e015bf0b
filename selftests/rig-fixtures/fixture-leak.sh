#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): leaves a dm device and a loop device
# behind (not registered for cleanup); the runner must fail it.
. "$(dirname "$0")/../lib.sh"
ktap_print_header
ktap_set_plan 2
modprobe -qa loop dm_mod
truncate -s 1M "$SCRATCH/leak.img"
ktap_check "create loop device" losetup -f "$SCRATCH/leak.img"
ktap_check "create dm device" dmsetup create t-rig-leak --table "0 8 zero"
ktap_finished
