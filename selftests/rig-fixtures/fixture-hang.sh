#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Rig fixture (not part of the suite): the guest stops making progress.
# It freezes the runner (SIGSTOP), so no result ever comes back, as when the
# guest kernel hangs; the host must kill the VM and report a failure with
# the console tail (tools/vm/check.sh, rig-hang).
# timeout=3
echo "rig-fixture-hang: hanging now"
# Our parent is timeout(1), whose parent is the runner.
read -r st < "/proc/$PPID/stat"
st=${st##*) }
set -- $st
kill -STOP "$2"
sleep 100000
