#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Sum up the guest's perf profiles (profile-<step>.txt, written by
bench/guest/bench-profile.sh) by kind of work, for the "measured limits"
of Documentation/performance.rst.

usage: profile.py OUTDIR   (writes OUTDIR/profile.txt and prints it)

Each step's flat profile ("perf report --sort dso,sym") is split into:
idle, crypto (AES, CTR, CBC-MAC, GHASH, the AEAD templates, FPU state),
memcpy/zeroing, page allocation (buddy, slab, mempools), block layer and
disks (null_blk/brd), device-mapper core and kcopyd, the dm-ccm-mirror
module, dm-crypt/dm-integrity, scheduling and wakeups, irq-enable points
(_raw_spin_unlock_irqrestore and friends: with a timer-driven sampler the
samples of a section run with interrupts off land there), and the rest.
Percentages are of all samples of both vCPUs (idle included), and also of
the busy samples only.
"""
import glob
import os
import re
import sys

KINDS = [
    ("idle", None, r"(safe_halt|default_idle|cpu_idle|do_idle|poll_idle|mwait|"
                   r"acpi_idle|cpuidle|arch_cpu_idle)"),
    ("crypto", r"\[(aesni_intel|ghash_clmulni_intel|ccm|gcm|ctr|xts|"
               r"cryptd|crypto_simd|aes_generic|gf128mul|libaes)\]",
     r"(aes|cbcmac|ccm|gcm|ghash|gf128|clmul|xts|ctr_crypt|crypto_|skcipher|"
     r"aead|scatterwalk|kernel_fpu|fpregs|fpu_|xsave|xrstor|sha256|crc32c)"),
    ("memcpy/zeroing", None, r"(memcpy|memmove|memset|clear_page|copy_page|"
                             r"rep_movs|copy_user|_copy_to_iter|_copy_from_iter|"
                             r"copy_mc|clear_user)"),
    ("page allocation", None, r"(get_page_from_freelist|alloc_pages|__alloc_pages|"
                              r"free_unref_page|free_pages|__free_pages|free_pcppages|"
                              r"rmqueue|post_alloc_hook|prep_new_page|mempool_|"
                              r"kmem_cache_|kmalloc|kfree|slab|__slab|alloc_pl|"
                              r"free_pl|folio_alloc|__folio|page_pool|"
                              r"kernel_init_pages|free_tail_page)"),
    ("dm-ccm-mirror", r"\[dm_ccm_mirror\]", None),
    ("dm-crypt/integrity", r"\[(dm_crypt|dm_integrity|dm_bufio)\]", None),
    ("dm core/kcopyd/raid1", r"\[(dm_mod|dm_mirror|dm_region_hash|dm_log)\]",
     r"^(dm_|__map_bio|__split_and_process|kcopyd|dispatch_io|do_region)"),
    ("block layer/disks", r"\[(null_blk|brd)\]",
     r"(^blk_|^bio_|submit_bio|^__blk|^null_|^brd_|xa_load|^__bio|bvec|"
     r"blkdev_|^bdev_|iomap|^__submit|aio_|io_submit|libaio|^dio_)"),
    ("scheduling/wakeups", None, r"(schedule|finish_task_switch|try_to_wake_up|"
                                 r"ttwu|enqueue_|dequeue_|pick_next|update_curr|"
                                 r"__switch_to|switch_mm|wake_up|queue_work|"
                                 r"worker_thread|process_one_work|kthread|"
                                 r"complete|swake_up|__wake_up|select_task_rq|"
                                 r"native_sched_clock|sched_clock)"),
    ("irq-enable points", None, r"(_raw_spin_unlock_irq|_raw_spin_unlock_bh|"
                                r"__local_bh_enable|local_irq_restore|"
                                r"native_irq_enable|irqentry_exit|"
                                r"__softirqentry|handle_softirqs|__do_softirq)"),
]
LINE = re.compile(r"^\s*([0-9.]+)%\s+(\S+)\s+\[[.kuHg]\]\s+(.+?)\s*$")


def kind(dso, sym):
    for name, dso_re, sym_re in KINDS:
        if dso_re and re.search(dso_re, dso):
            return name
        if sym_re and re.search(sym_re, sym):
            return name
    return "other"


def summarize(path):
    flat, step = [], os.path.basename(path)[8:-4]
    cmd = ""
    with open(path) as f:
        for line in f:
            if line.startswith("# step:"):
                cmd = line.split(":", 2)[2].strip()
                continue
            if line.startswith("# callers"):
                break
            m = LINE.match(line)
            if m:
                flat.append((float(m.group(1)), m.group(2), m.group(3)))
    by = {}
    for pct, dso, sym in flat:
        k = kind(dso, sym)
        by[k] = by.get(k, 0.0) + pct
    listed = sum(p for p, _, _ in flat)
    by["(below 0.3% each)"] = max(0.0, 100.0 - listed)
    busy = 100.0 - by.get("idle", 0.0)
    out = [f"== {step}: {cmd}"]
    for k, v in sorted(by.items(), key=lambda kv: -kv[1]):
        share = "" if k == "idle" or busy <= 0 else f"  ({v / busy * 100:5.1f}% of busy)"
        out.append(f"   {v:5.1f}%  {k}{share}")
    out.append("   top symbols:")
    for pct, dso, sym in flat[:12]:
        out.append(f"   {pct:5.1f}%  {sym} {dso} [{kind(dso, sym)}]")
    return "\n".join(out)


def main():
    d = sys.argv[1]
    parts = [summarize(p) for p in sorted(glob.glob(os.path.join(d, "profile-*.txt")))]
    for p in sorted(glob.glob(os.path.join(d, "tcrypt-*.txt"))):
        with open(p) as f:
            lines = [re.sub(r"^\[[ 0-9.]+\] (tcrypt: )?", "   ", l.rstrip()) for l in f]
        parts.append(f"== {os.path.basename(p)[:-4]} (kernel log)\n" + "\n".join(lines))
    text = "\n\n".join(parts) + "\n"
    with open(os.path.join(d, "profile.txt"), "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
