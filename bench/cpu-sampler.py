#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host side of the CPU-cost measurement of `make bench`.

The guest writes "B <name>" / "E <name>" into the results share's file
`mark` at the start and end of every measured step (a fio job, a copy).
This sampler, started by bench/run.sh before tools/vm/run.sh, watches that
file and records at each change:

- the CPU time (user + system, all threads) QEMU has used, so that every
  step gets its cost in host CPU seconds: unlike wall time, that does not
  grow when other VMs take the host's CPUs;
- the host's busy CPU time (every CPU, /proc/stat: all but idle and
  iowait) and its steal time, so that the report can tell how much CPU
  everything else on the host (other VMs) used during the step: the
  contention the wall-time numbers of that step suffered.

usage: cpu-sampler.py OUTDIR   (runs until QEMU exits; writes
        OUTDIR/cpu-marks.txt: "<wall s> <qemu cpu s> <host busy s>
        <host steal s> <B|E> <name>")
"""
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def qemu_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 here.
    return (int(fields[11]) + int(fields[12])) / TICK


def host_cpu():
    """(busy, steal) seconds of all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice]
    # (guest time is already counted in user).
    busy = v[0] + v[1] + v[2] + v[5] + v[6]
    steal = v[7] if len(v) > 7 else 0
    return busy / TICK, steal / TICK


def main():
    out = sys.argv[1]
    pidfile = os.path.join(out, "qemu.pid")
    mark = os.path.join(out, "mark")
    start = time.time()
    # run.sh empties OUTDIR first: wait for this run's pid file.
    pid = None
    while pid is None:
        try:
            if os.stat(pidfile).st_mtime >= start - 1:
                with open(pidfile) as f:
                    pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        if pid is None:
            if time.time() - start > 600:
                return 1
            time.sleep(0.2)
    last = None
    with open(os.path.join(out, "cpu-marks.txt"), "w") as log:
        while True:
            try:
                with open(mark) as f:
                    cur = f.read().strip()
            except OSError:
                cur = None
            if cur and cur != last:
                try:
                    cpu = qemu_cpu(pid)
                except OSError:
                    break
                busy, steal = host_cpu()
                log.write(f"{time.time() - start:.3f} {cpu:.2f} {busy:.2f} "
                          f"{steal:.2f} {cur}\n")
                log.flush()
                last = cur
            if not os.path.exists(f"/proc/{pid}"):
                break
            time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main())
