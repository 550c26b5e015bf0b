#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise one kernel's bench.jsonl (written in the VM by bench/guest/)
and cpu-marks.txt (written on the host by bench/cpu-sampler.py) into a
JSON report and tables of ratios (Markdown, and reStructuredText for
Documentation/performance.rst), and check the targets of the performance
issue (#7).

usage: report.py --kver KVER [--cpu cpu-marks.txt] [--seconds vm-seconds]
                 --json OUT.json --md OUT.md [--rst OUT.rst] bench.jsonl

Two measures of every step:
- wall: MB/s (or seconds) in the guest; grows noisy when other VMs take the
  host's CPUs (the dm-linear noise control row shows how noisy);
- cpu: MB per second of QEMU CPU time (user + system, every thread), i.e.
  the cost of the work, much less affected by the host's load.  A job's
  CPU time includes a fixed cost of its start and end, measured by
  calibration jobs that do no I/O and subtracted.
Each (mapping, workload) is run BENCH_ROUNDS times, interleaved with the
others; the tables give the median of the rounds (each measure on its
own), and the reference "dm-linear" is the median of the rounds of both
dm-linear mappings (they measure the same thing; the ratio of one to the
other is the noise).  Ratios compare numbers of one VM run.
The targets are judged on wall time (what the issue states); a verdict
whose margin is within the measured noise says so, and so does one the CPU
measure contradicts.  Nothing here is a constant: every number comes from
the run's own samples.
"""
import argparse
import datetime
import json
import statistics
import sys

# A sample is "contended" when other processes on the host used more than
# this many CPUs (of 2) on average during it.
CONTENDED = 0.5

IO_WORKLOADS = [
    ("randread", "4K rand read QD32"),
    ("randwrite", "4K rand write QD32"),
    ("read", "1M seq read QD8"),
    ("write", "1M seq write QD8"),
]
IO_CONFIGS = [
    ("linear", "dm-linear, first mapping"),
    ("linear-control", "dm-linear, second mapping (noise control)"),
    ("mirror-plain-copying", "ccm-mirror plain, copying"),
    ("mirror-plain-ready", "ccm-mirror plain, ready"),
    ("mirror-enc-copying", "ccm-mirror encrypted, copying"),
    ("mirror-enc-ready", "ccm-mirror encrypted, ready"),
    ("raid1", "dm-raid1 (core log), in sync"),
    ("ccm", "ccm target"),
    ("crypt-xts", "dm-crypt aes-xts-plain64"),
    ("crypt-aead", "dm-crypt aes-gcm-random over dm-integrity (J)"),
]
COPIES = [
    ("dd", "dd O_DIRECT bs=1M"),
    ("mirror-plain", "ccm-mirror plain"),
    ("mirror-plain-p1", "ccm-mirror plain, parallel 1"),
    ("raid1", "dm-raid1 resync"),
    ("mirror-enc", "ccm-mirror encrypted, 4096-byte blocks"),
    ("mirror-enc-512", "ccm-mirror encrypted, 512-byte blocks"),
]
LOADS = [
    ("linear", "none (dm-linear, no copy)"),
    ("mirror-plain", "ccm-mirror plain"),
    ("mirror-plain-rate", "ccm-mirror plain, rate-limited"),
    ("raid1", "dm-raid1 resync"),
    ("mirror-enc", "ccm-mirror encrypted"),
    ("mirror-enc-rate", "ccm-mirror encrypted, rate-limited"),
]
PEERS = [
    ("ccm-mirror plain ready / dm-raid1", "mirror-plain-ready", "raid1"),
    ("ccm-mirror plain copying / dm-raid1", "mirror-plain-copying", "raid1"),
    ("ccm-mirror enc ready / dm-crypt AEAD", "mirror-enc-ready", "crypt-aead"),
    ("ccm-mirror enc copying / dm-crypt AEAD", "mirror-enc-copying", "crypt-aead"),
    ("ccm target / dm-crypt AEAD", "ccm", "crypt-aead"),
    ("ccm target / dm-crypt xts", "ccm", "crypt-xts"),
    ("dm-crypt AEAD / dm-crypt xts", "crypt-aead", "crypt-xts"),
]


def load_jsonl(path):
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"report: {path}:{n}: {e}", file=sys.stderr)
    return rows


def load_marks(path):
    """name -> {cpu_s, wall_s, others_cores, steal_cores} between its B and
    the next mark (its E, or the next B when the sampler missed the E)."""
    if not path:
        return {}
    try:
        with open(path) as f:
            lines = [l.split() for l in f if l.strip()]
    except OSError:
        return {}
    marks = []
    for m in lines:
        if len(m) >= 6 and m[4] in ("B", "E"):
            marks.append((float(m[0]), float(m[1]), float(m[2]), float(m[3]),
                          m[4], " ".join(m[5:])))
        elif len(m) >= 4 and m[2] in ("B", "E"):       # old format
            marks.append((float(m[0]), float(m[1]), None, None, m[2],
                          " ".join(m[3:])))
    out = {}
    for i, m in enumerate(marks):
        if m[4] != "B" or i + 1 >= len(marks):
            continue
        n = marks[i + 1]
        wall = n[0] - m[0]
        cpu = n[1] - m[1]
        rec = {"cpu_s": cpu, "wall_s": wall}
        if m[2] is not None and n[2] is not None and wall > 0:
            rec["others_cores"] = max(0.0, (n[2] - m[2]) - cpu) / wall
            rec["steal_cores"] = (n[3] - m[3]) / wall
        out[m[5]] = rec
    return out


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fr(r):
    return "n/a" if r is None else f"{r:.2f}"


def fnum(v, digits=0):
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}"


class Table:
    def __init__(self, title, header, rows, notes=None):
        self.title, self.header, self.rows = title, header, rows
        self.notes = notes or []

    def md(self):
        out = [self.title, ""] if self.title else []
        out.append("| " + " | ".join(self.header) + " |")
        out.append("|" + "---|" * len(self.header))
        for r in self.rows:
            out.append("| " + " | ".join(str(c) for c in r) + " |")
        out.append("")
        for n in self.notes:
            out += [n, ""]
        return "\n".join(out)

    def rst(self):
        cells = [self.header] + [[str(c) for c in r] for r in self.rows]
        w = [max(len(r[i]) for r in cells) for i in range(len(self.header))]

        def line(ch):
            return "+" + "+".join(ch * (x + 2) for x in w) + "+"

        def row(r):
            return "|" + "|".join(f" {c:<{x}} " for c, x in zip(r, w)) + "|"

        out = [self.title, ""] if self.title else []
        out += [line("-"), row(self.header), line("=")]
        for r in cells[1:]:
            out += [row(r), line("-")]
        out.append("")
        for n in self.notes:
            out += [n, ""]
        return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kver", required=True)
    ap.add_argument("--cpu")
    ap.add_argument("--seconds")
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--rst")
    ap.add_argument("jsonl")
    a = ap.parse_args()
    rows = load_jsonl(a.jsonl)
    marks = load_marks(a.cpu)
    cal = [v["cpu_s"] for k, v in marks.items() if k.endswith(":cal:null")]
    cal_s = statistics.median(cal) if cal else 0.0

    notes, io, fills, copy, load, cipher = {}, {}, {}, {}, {}, []
    for r in rows:
        if "note" in r:
            notes[r["note"]] = r["value"]
            continue
        t, c, w = r.get("test"), r.get("config"), r.get("workload")
        if t == "cipher":
            cipher.append(r)
        elif t == "io" and w and w.startswith("fill"):
            fills.setdefault(c, []).append(r)
        elif t == "io":
            mk = marks.get(f"io:{r.get('round', 1)}:{w}:{c}")
            if mk:
                if r.get("bytes"):
                    r["cpu_s"] = round(max(mk["cpu_s"] - cal_s, 0.01), 3)
                    r["MB_per_cpu_s"] = round(r["bytes"] / 1e6 / r["cpu_s"], 1)
                if "others_cores" in mk:
                    r["host_others_cores"] = round(mk["others_cores"], 2)
                    r["host_steal_cores"] = round(mk["steal_cores"], 2)
            io.setdefault(c, {}).setdefault(w, []).append(r)
        elif t == "copy" and w == "copy":
            mk = marks.get(f"copy:{r.get('round', 1)}:{c}")
            if mk:
                r["cpu_s"] = round(mk["cpu_s"], 2)
                r["MB_per_cpu_s"] = round(r["MiB"] * 1.048576 / max(mk["cpu_s"], 0.01), 1)
                if "others_cores" in mk:
                    r["host_others_cores"] = round(mk["others_cores"], 2)
            copy.setdefault(c, []).append(r)
        elif t == "copy":
            load.setdefault(c, []).append(r)

    def valid(samples, key):
        """The samples with a value; those during which other processes on
        the host used more than CONTENDED CPUs are left out when the same
        point has others."""
        ok = [s for s in samples if s.get(key) is not None and "error" not in s]
        calm = [s for s in ok if s.get("host_others_cores", 0) <= CONTENDED]
        return calm or ok

    def best(samples, key):
        ok = valid(samples, key)
        return max(ok, key=lambda s: s[key]) if ok else None

    def median(samples, key):
        ok = valid(samples, key)
        return statistics.median(s[key] for s in ok) if ok else None

    def typical(samples, key):
        """The sample nearest the median (for its other fields)."""
        m = median(samples, key)
        ok = valid(samples, key)
        return min(ok, key=lambda s: abs(s[key] - m)) if ok else None

    def io_samples(c, w):
        if c == "ref":
            return io.get("linear", {}).get(w, []) + io.get("linear-control", {}).get(w, [])
        return io.get(c, {}).get(w, [])

    def io_val(c, w, key):
        return median(io_samples(c, w), key)

    def copy_val(c, key):
        return median(copy.get(c, []), key)

    def afalg(alg, block, threads=1, typ="aead"):
        for x in cipher:
            if (x.get("alg") == alg and x.get("block") == block and
                    x.get("threads") == threads and x.get("type", "aead") == typ):
                return x
        return None

    # ---- noise: the two identical dm-linear mappings, the copy rounds ----
    io_noise = [abs(1 - r) for r in (ratio(io_val("linear-control", w, "MBps"),
                                           io_val("linear", w, "MBps"))
                                     for w, _ in IO_WORKLOADS) if r is not None]
    io_noise = max(io_noise) if io_noise else None
    cpu_noise = [abs(1 - r) for r in (ratio(io_val("linear-control", w, "MB_per_cpu_s"),
                                            io_val("linear", w, "MB_per_cpu_s"))
                                      for w, _ in IO_WORKLOADS) if r is not None]
    cpu_noise = max(cpu_noise) if cpu_noise else None
    # Copies: how far the ratio of two copies of one round strays from the
    # median of those ratios.
    def copy_ratio_noise(x, y):
        by = {}
        for c in (x, y):
            for s in copy.get(c, []):
                if s.get("MBps"):
                    by.setdefault(s.get("round", 1), {})[c] = s["MBps"]
        rs = [v[x] / v[y] for v in by.values() if x in v and y in v]
        if len(rs) < 2:
            return None
        m = statistics.median(rs)
        return max(abs(r / m - 1) for r in rs)

    copy_noise = {p: copy_ratio_noise(*p) for p in (("mirror-plain", "dd"),
                                                     ("mirror-plain", "raid1"))}
    others = [s.get("host_others_cores") for ws in io.values() for ss in ws.values()
              for s in ss if s.get("host_others_cores") is not None]

    # ---- targets ----
    targets = []

    def target(tid, name, goal, pairs, noise, cpu_pairs=True):
        """pairs: (label, numerator-fn, denominator-fn), fn(key) -> value."""
        t = {"id": tid, "target": name, "goal": goal}
        for key, m in (("MBps", "wall"), ("MB_per_cpu_s", "cpu")):
            if m == "cpu" and not cpu_pairs:
                t[m] = None
                continue
            vals = [(lab, ratio(f(key), g(key))) for lab, f, g in pairs]
            vals = [(lab, v) for lab, v in vals if v is not None]
            if not vals:
                t[m] = None
                continue
            worst = min(vals, key=lambda kv: kv[1])
            gmean = statistics.geometric_mean([v for _, v in vals])
            t[m] = {"met": worst[1] >= goal, "worst": worst[0],
                    "worst_ratio": round(worst[1], 3),
                    "geomean_ratio": round(gmean, 3),
                    "ratios": {k: round(v, 3) for k, v in vals}}
        w, c = t.get("wall"), t.get("cpu")
        if not w:
            t["verdict"] = "not measured"
        else:
            v = "met" if w["met"] else "missed"
            notes_ = []
            if noise is not None and abs(w["worst_ratio"] - goal) <= noise * goal:
                notes_.append(f"worst case within the noise of ±{noise * 100:.0f}%")
            if c and c["met"] != w["met"]:
                notes_.append(f"CPU cost says {'met' if c['met'] else 'missed'}")
            t["verdict"] = v + (f" ({'; '.join(notes_)})" if notes_ else "")
        t["noise"] = None if noise is None else round(noise, 3)
        targets.append(t)

    def iof(c, w):
        return lambda key: io_val(c, w, key)

    def ref(w):
        return lambda key: io_val("ref", w, key)

    def cpf(c):
        return lambda key: copy_val(c, key)

    target(1, "reads through ccm-mirror in any state >= 0.97 x dm-linear", 0.97,
           [(f"{c} {w}", iof(c, w), ref(w))
            for c in ("mirror-plain-copying", "mirror-plain-ready",
                      "mirror-enc-copying", "mirror-enc-ready")
            for w in ("randread", "read")], io_noise)
    target(2, "plain writes to in-sync regions >= dm-raid1", 1.0,
           [(f"mirror-plain-ready {w}", iof("mirror-plain-ready", w), iof("raid1", w))
            for w in ("randwrite", "write")], io_noise)
    target(3, "encrypted writes to in-sync regions and the ccm target "
           ">= 1.5 x dm-crypt AEAD over dm-integrity", 1.5,
           [(f"mirror-enc-ready {w}", iof("mirror-enc-ready", w), iof("crypt-aead", w))
            for w in ("randwrite", "write")] +
           [(f"ccm {w}", iof("ccm", w), iof("crypt-aead", w)) for w, _ in IO_WORKLOADS],
           io_noise)
    target(4, "idle plain copy >= 0.9 x dd O_DIRECT", 0.9,
           [("mirror-plain / dd", cpf("mirror-plain"), cpf("dd"))],
           copy_noise[("mirror-plain", "dd")])
    target(5, "idle plain copy >= 2 x dm-raid1 resync", 2.0,
           [("mirror-plain / raid1", cpf("mirror-plain"), cpf("raid1"))],
           copy_noise[("mirror-plain", "raid1")])
    enc_blk = (typical(copy.get("mirror-enc", []), "MBps") or {}).get("block", 4096)
    raws = [x for x in (afalg("ccm(aes)", enc_blk, 1), afalg("ccm(aes)", enc_blk, 2)) if x]
    raw = max(raws, key=lambda x: x["encrypt_MBps"]) if raws else None
    target(6, "encrypted copy >= 0.8 x raw AES-CCM (AF_ALG encryption, same block size, "
           "best of 1 and 2 threads)", 0.8,
           [(f"mirror-enc / afalg ccm(aes) {enc_blk} B x{raw['threads'] if raw else '?'}",
             lambda key: copy_val("mirror-enc", key) if key == "MBps" else None,
             lambda key: raw["encrypt_MBps"] if raw and key == "MBps" else None)],
           None, cpu_pairs=False)

    # ---- tables ----
    tables = []
    facts = [notes.get(k) for k in ("cpu", "mem", "disks", "fio", "copy") if notes.get(k)]
    vm_seconds = None
    if a.seconds:
        try:
            with open(a.seconds) as f:
                vm_seconds = f.read().strip()
            facts.append(f"VM run {vm_seconds} s")
        except OSError:
            pass
    if others:
        facts.append("other processes on the host during the fio jobs: "
                     f"{min(others):.2f}-{max(others):.2f} CPUs "
                     f"(median {statistics.median(others):.2f}) of the host's 2; "
                     f"{sum(1 for o in others if o > CONTENDED)} of {len(others)} "
                     f"jobs contended (> {CONTENDED} CPU), left out where the same "
                     "point has others")
    if io_noise is not None:
        facts.append(f"noise (dm-linear vs the same again, wall): ±{io_noise * 100:.1f}%"
                     + (f", CPU: ±{cpu_noise * 100:.1f}%" if cpu_noise is not None else ""))
    cn = [v for v in copy_noise.values() if v is not None]
    if cn:
        facts.append("copy ratios (to dd, to dm-raid1) spread over the rounds: ±"
                     + ", ±".join(f"{v * 100:.0f}%" for v in cn))

    missing = []
    nrounds = max([len(ss) for ws in io.values() for ss in ws.values()] or [0])
    for key, title in (("MBps", f"fio, MB/s (ratio to dm-linear), median of {nrounds} rounds:"),
                       ("MB_per_cpu_s", "fio, MB per QEMU CPU-second (ratio to dm-linear), "
                        f"median of {nrounds} rounds ({cal_s:.2f} CPU-s of calibration per "
                        "job subtracted):")):
        if key == "MB_per_cpu_s" and not any(
                io_val(c, w, key) is not None for c in io for w, _ in IO_WORKLOADS):
            continue
        trows = [["dm-linear (the reference: both mappings)"] +
                 [fnum(io_val("ref", w, key)) for w, _ in IO_WORKLOADS]]
        for c, label in IO_CONFIGS:
            if c not in io:
                trows.append([label] + ["n/a"] * len(IO_WORKLOADS))
                if key == "MBps":
                    why = (notes.get("mirror-encrypted") if c.startswith("mirror-enc")
                           else notes.get(c)) or "not measured"
                    missing.append(f"{label}: {why}")
                continue
            cells = []
            for w, _ in IO_WORKLOADS:
                v = io_val(c, w, key)
                r = ratio(v, io_val("ref", w, key))
                cells.append("n/a" if v is None else f"{v:.0f} ({fr(r)})")
            trows.append([label] + cells)
        tables.append(Table(title, ["mapping"] + [l for _, l in IO_WORKLOADS], trows,
                            [f"n/a: {m}." for m in missing] if key == "MBps" else None))

    trows = []
    for c, label in IO_CONFIGS:
        if c not in io:
            continue
        cells = []
        for w in ("randread", "randwrite"):
            b = typical(io_samples(c, w), "MBps")
            cells.append("n/a" if not b else f"{b.get('lat_p50_us')} / {b.get('lat_p99_us')}")
        trows.append([label] + cells)
    tables.append(Table("fio latency (total: submission + completion), us, p50 / p99, "
                        "of the median round:", ["mapping", "4K rand read QD32",
                                               "4K rand write QD32"], trows))

    trows = []
    for label, x, y in PEERS:
        trows.append([label] + [
            f"{fr(ratio(io_val(x, w, 'MBps'), io_val(y, w, 'MBps')))} / "
            f"{fr(ratio(io_val(x, w, 'MB_per_cpu_s'), io_val(y, w, 'MB_per_cpu_s')))}"
            for w, _ in IO_WORKLOADS])
    fill_note = []
    if fills:
        fill_note = ["Writing every block once before reading (dd 1 MiB O_DIRECT, the "
                     "fills running in parallel): " + ", ".join(
                         f"{c} {typical(s, 'MBps')['MBps']:.1f} MB/s"
                         for c, s in fills.items() if typical(s, "MBps")) + "."]
    if notes.get("copying-fraction"):
        fill_note.append(f"Copying mirrors, fraction of regions in sync: "
                         f"{notes['copying-fraction']}.")
    tables.append(Table("Ratios to the peers, same workload (wall / CPU):",
                        ["ratio"] + [l for _, l in IO_WORKLOADS], trows, fill_note))

    trows = []
    for c, label in COPIES:
        b = typical(copy.get(c, []), "MBps")
        bc = typical(copy.get(c, []), "MB_per_cpu_s")
        if not b:
            trows.append([label] + ["n/a"] + [""] * 8)
            continue
        mb, mc = copy_val(c, "MBps"), copy_val(c, "MB_per_cpu_s")
        cells = [f"{b['MiB']} MiB", f"{b['MiB'] * 1.048576 / mb:.2f}", f"{mb:.1f}",
                 fr(ratio(mb, copy_val("dd", "MBps"))),
                 fr(ratio(mb, copy_val("raid1", "MBps")))]
        if bc:
            cells += [f"{b['MiB'] * 1.048576 / mc:.1f}", f"{mc:.1f}",
                      fr(ratio(mc, copy_val("dd", "MB_per_cpu_s"))),
                      fr(ratio(mc, copy_val("raid1", "MB_per_cpu_s")))]
        else:
            cells += ["", "", "", ""]
        trows.append([label] + cells)
    ncr = max([len(v) for v in copy.values()] or [0])
    tables.append(Table(f"Copy, idle (median of {ncr} rounds, each measure on its own; "
                        "time to ready: from the resume to the dm event):",
                        ["copy", "size", "s", "MB/s", "/ dd", "/ dm-raid1", "CPU-s",
                         "MB per CPU-s", "/ dd", "/ dm-raid1"], trows))

    if load:
        trows = []
        for c, label in LOADS:
            s = load.get(c)
            if not s:
                continue
            b = s[-1]
            if c == "linear":
                trows.append([label, "-", "-", "-", f"{b.get('iops')}",
                              f"{b.get('lat_p50_us')}", f"{b.get('lat_p99_us')}"])
            else:
                how = (f"ready in {b['seconds']:.1f} s" if b.get("finished") else
                       f"{b.get('copied_fraction', 0) * 100:.0f}% in {b['seconds']:.1f} s")
                trows.append([label, f"{b.get('rate_limit') or 'none'}", how,
                              f"{b['MBps']:.1f}", f"{b.get('read_iops')}",
                              f"{b.get('lat_p50_us')}", f"{b.get('lat_p99_us')}"])
        tables.append(Table("Copy under a 4 KiB random read load (fio QD 1 on the mapping "
                            "while the copy runs; latency: total, us):",
                            ["copy", "rate limit MiB/s", "copy progress", "copy MB/s",
                             "reads IOPS", "read p50", "read p99"], trows))

    if cipher:
        trows = []
        for x in cipher:
            ops = x.get("encrypt_ops") or 0
            us = (x.get("seconds", 0) * x.get("threads", 1) * 1e6 / ops) if ops else None
            trows.append([f"{x['alg']} ({x.get('type', 'aead')})", x.get("driver", "?"),
                          str(x["block"]), str(x["threads"]), f"{x['encrypt_MBps']:.1f}",
                          f"{x['decrypt_MBps']:.1f}" if "decrypt_MBps" in x else "-",
                          fnum(us, 1)])
        tables.append(Table("Raw ciphers through AF_ALG (bench/afalg-ccm.c: one sendmsg + "
                            "read per request; MB/s of payload; ccm(aes): the ccm format's "
                            "construction, 13-byte nonce, 24-byte AAD, 16-byte tag, AES-256; "
                            "us per request per thread, encryption):",
                            ["algorithm", "driver", "request bytes", "threads",
                             "encrypt MB/s", "decrypt MB/s", "us/request"], trows))

    trows = []
    for t in targets:
        w, c = t.get("wall"), t.get("cpu")
        trows.append([str(t["id"]), t["target"],
                      "n/a" if not w else f"{w['worst_ratio']:.2f} ({w['worst']})",
                      "n/a" if not w else f"{w['geomean_ratio']:.2f}",
                      "n/a" if not c else f"{c['worst_ratio']:.2f} ({c['worst']})",
                      t["verdict"]])
    tables.append(Table("Targets (the worst case decides, on wall time; the geometric "
                        "mean of the cases and the CPU cost for comparison):",
                        ["#", "target", "wall: worst ratio", "wall: mean",
                         "CPU: worst ratio", "verdict"], trows))

    report = {
        "kernel": a.kver,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "vm_seconds": vm_seconds,
        "notes": notes,
        "noise": {"io_wall": io_noise, "io_cpu": cpu_noise,
                  "copy_ratio_to_dd": copy_noise[("mirror-plain", "dd")],
                  "copy_ratio_to_raid1": copy_noise[("mirror-plain", "raid1")]},
        "cpu_calibration_s": round(cal_s, 3),
        "io_MBps_median": {c: {w: io_val(c, w, "MBps") for w, _ in IO_WORKLOADS}
                           for c in list(io) + ["ref"]},
        "io_MB_per_cpu_s_median": {c: {w: io_val(c, w, "MB_per_cpu_s") for w, _ in IO_WORKLOADS}
                                   for c in list(io) + ["ref"]},
        "copy_median": {c: {"MBps": copy_val(c, "MBps"), "MB_per_cpu_s": copy_val(c, "MB_per_cpu_s")}
                        for c in copy},
        "copy_under_load": load,
        "fills": fills,
        "cipher": cipher,
        "targets": targets,
        "samples": [r for r in rows if "note" not in r],
    }
    with open(a.json, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")

    head = [f"### Kernel {a.kver}", ""]
    if facts:
        head += ["Guest: " + "; ".join(facts) + ".", ""]
    with open(a.md, "w") as f:
        f.write("\n".join(head) + "\n" + "\n".join(t.md() for t in tables))
    if a.rst:
        title = f"Kernel {a.kver}"
        rhead = [title, "-" * len(title), ""]
        if facts:
            rhead += ["Guest: " + "; ".join(facts) + ".", ""]
        with open(a.rst, "w") as f:
            f.write("\n".join(rhead) + "\n" + "\n".join(t.rst() for t in tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
