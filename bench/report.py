#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Summarise one kernel's bench.jsonl (written in the VM by bench/guest/)
into a JSON report and a Markdown table of ratios, and check the targets
of the performance issue.

usage: report.py --kver KVER --json OUT.json --md OUT.md bench.jsonl

Each (mapping, workload) keeps its best round (noise on the shared host only
ever slows a run down); ratios are taken between numbers of the same VM run.
"""
import argparse
import datetime
import json
import sys

IO_WORKLOADS = [
    ("randread", "4K rand read QD32"),
    ("randwrite", "4K rand write QD32"),
    ("read", "1M seq read QD8"),
    ("write", "1M seq write QD8"),
]
IO_CONFIGS = [
    ("linear", "dm-linear"),
    ("mirror-plain-copying", "ccm-mirror plain, copying"),
    ("mirror-plain-ready", "ccm-mirror plain, ready"),
    ("mirror-enc-copying", "ccm-mirror encrypted (512 B), copying"),
    ("mirror-enc-ready", "ccm-mirror encrypted (512 B), ready"),
    ("raid1", "dm-raid1 (core log), in sync"),
    ("ccm", "ccm target (4096 B)"),
    ("crypt-xts", "dm-crypt aes-xts-plain64"),
    ("crypt-aead", "dm-crypt AEAD gcm over dm-integrity (J)"),
]


def load(path):
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


def best(samples, key="MBps"):
    ok = [s for s in samples if key in s and "error" not in s]
    return max(ok, key=lambda s: s[key]) if ok else None


def ratio(a, b):
    if a is None or b is None or not b:
        return None
    return a / b


def fmt_ratio(r):
    return "n/a" if r is None else f"{r:.2f}"


def fmt_num(x, nd=0):
    if x is None:
        return "n/a"
    return f"{x:.{nd}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kver", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("jsonl")
    a = ap.parse_args()
    rows = load(a.jsonl)

    notes = {}
    io = {}
    fills = {}
    copy = {}
    load_ = {}
    cipher = []
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
            io.setdefault(c, {}).setdefault(w, []).append(r)
        elif t == "copy" and w == "copy":
            copy.setdefault(c, []).append(r)
        elif t == "copy":
            load_.setdefault(c, []).append(r)

    io_best = {c: {w: best(s) for w, s in ws.items()} for c, ws in io.items()}

    def mbps(c, w):
        b = io_best.get(c, {}).get(w)
        return b["MBps"] if b else None

    copy_best = {c: best(s) for c, s in copy.items()}

    def copy_mbps(c):
        b = copy_best.get(c)
        return b["MBps"] if b else None

    def afalg(alg, block, threads=1):
        for x in cipher:
            if (x.get("alg") == alg and x.get("block") == block and
                    x.get("threads") == threads):
                return x
        return None

    # ---- targets ----
    targets = []

    def target(name, values, goal):
        vals = [(k, v) for k, v in values if v is not None]
        if not vals:
            targets.append({"target": name, "goal": goal, "met": None,
                            "measured": "not available"})
            return
        worst = min(vals, key=lambda kv: kv[1])
        targets.append({
            "target": name, "goal": goal, "met": worst[1] >= goal,
            "worst": worst[0], "worst_ratio": round(worst[1], 3),
            "ratios": {k: round(v, 3) for k, v in vals},
        })

    lin = {w: mbps("linear", w) for w, _ in IO_WORKLOADS}
    target("reads through ccm-mirror in any state >= 0.97 x dm-linear",
           [(f"{c} {w}", ratio(mbps(c, w), lin[w]))
            for c in ("mirror-plain-copying", "mirror-plain-ready",
                      "mirror-enc-copying", "mirror-enc-ready")
            for w in ("randread", "read")], 0.97)
    target("plain writes to in-sync regions >= dm-raid1",
           [(f"mirror-plain-ready {w}",
             ratio(mbps("mirror-plain-ready", w), mbps("raid1", w)))
            for w in ("randwrite", "write")], 1.0)
    target("encrypted writes and the ccm target >= 1.5 x dm-crypt AEAD over dm-integrity",
           [(f"{c} {w}", ratio(mbps(c, w), mbps("crypt-aead", w)))
            for c in ("mirror-enc-copying", "mirror-enc-ready")
            for w in ("randwrite", "write")] +
           [(f"ccm {w}", ratio(mbps("ccm", w), mbps("crypt-aead", w)))
            for w, _ in IO_WORKLOADS], 1.5)
    target("idle plain copy >= 0.9 x dd O_DIRECT",
           [("mirror-plain / dd", ratio(copy_mbps("mirror-plain"), copy_mbps("dd")))], 0.9)
    target("idle plain copy >= 2 x dm-raid1 resync",
           [("mirror-plain / raid1", ratio(copy_mbps("mirror-plain"), copy_mbps("raid1")))], 2.0)
    enc_blk = (copy_best.get("mirror-enc") or {}).get("block", 512)
    raws = [x for x in (afalg("ccm(aes)", enc_blk, 1), afalg("ccm(aes)", enc_blk, 2)) if x]
    raw = max(raws, key=lambda x: x["encrypt_MBps"]) if raws else None
    target("encrypted copy >= 0.8 x raw AES-CCM (AF_ALG encryption, same block size, best of 1 and 2 threads)",
           [(f"mirror-enc / afalg ccm(aes) {enc_blk} B x{raw['threads'] if raw else '?'}",
             ratio(copy_mbps("mirror-enc"), raw["encrypt_MBps"] if raw else None))], 0.8)

    report = {
        "kernel": a.kver,
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "notes": notes,
        "io_best": io_best,
        "io_ratio_to_linear": {
            c: {w: (round(ratio(mbps(c, w), lin[w]), 3)
                    if ratio(mbps(c, w), lin[w]) is not None else None)
                for w, _ in IO_WORKLOADS}
            for c in io_best},
        "fills": fills,
        "copy_best": copy_best,
        "copy_under_load": load_,
        "cipher": cipher,
        "targets": targets,
        "samples": [r for r in rows if "note" not in r],
    }
    with open(a.json, "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
        f.write("\n")

    # ---- Markdown ----
    md = []
    md.append(f"### Kernel {a.kver}\n")
    facts = [notes.get(k) for k in ("cpu", "mem", "brd", "fio", "copy") if notes.get(k)]
    if facts:
        md.append("Guest: " + "; ".join(facts) + ".\n")
    md.append("fio, MB/s (ratio to dm-linear), best of the rounds:\n")
    md.append("| mapping | " + " | ".join(l for _, l in IO_WORKLOADS) + " |")
    md.append("|---|" + "---|" * len(IO_WORKLOADS))
    missing = []
    for c, label in IO_CONFIGS:
        if c not in io_best:
            why = notes.get("mirror-encrypted") if c.startswith("mirror-enc") else \
                notes.get(c) or "not measured"
            md.append(f"| {label} | " + " | ".join(["n/a"] * len(IO_WORKLOADS)) + " |")
            missing.append(f"{label}: {why}")
            continue
        cells = []
        for w, _ in IO_WORKLOADS:
            v = mbps(c, w)
            r = ratio(v, lin[w])
            cells.append("n/a" if v is None else
                         f"{v:.0f} ({fmt_ratio(r)})" if c != "linear" else f"{v:.0f}")
        md.append(f"| {label} | " + " | ".join(cells) + " |")
    md.append("")
    for m in missing:
        md.append(f"n/a: {m}.  ")
    if missing:
        md.append("")

    # Peer ratios
    md.append("Ratios to the peers (same workload):\n")
    md.append("| ratio | " + " | ".join(l for _, l in IO_WORKLOADS) + " |")
    md.append("|---|" + "---|" * len(IO_WORKLOADS))
    peers = [
        ("ccm-mirror plain ready / dm-raid1", "mirror-plain-ready", "raid1"),
        ("ccm-mirror plain copying / dm-raid1", "mirror-plain-copying", "raid1"),
        ("ccm-mirror enc ready / dm-crypt AEAD+integrity", "mirror-enc-ready", "crypt-aead"),
        ("ccm-mirror enc copying / dm-crypt AEAD+integrity", "mirror-enc-copying", "crypt-aead"),
        ("ccm target / dm-crypt AEAD+integrity", "ccm", "crypt-aead"),
        ("ccm target / dm-crypt xts", "ccm", "crypt-xts"),
        ("dm-crypt AEAD+integrity / dm-crypt xts", "crypt-aead", "crypt-xts"),
    ]
    for label, x, y in peers:
        md.append(f"| {label} | " + " | ".join(
            fmt_ratio(ratio(mbps(x, w), mbps(y, w))) for w, _ in IO_WORKLOADS) + " |")
    md.append("")

    if fills:
        md.append("Writing every block once before reading (dd 1 MiB O_DIRECT, "
                  "the fills running in parallel): " + ", ".join(
                      f"{c} {best(s)['MBps']:.1f} MB/s" for c, s in fills.items() if best(s)) + ".\n")

    # Copy
    md.append("Copy, idle (best of the rounds):\n")
    md.append("| copy | size | s | MB/s | / dd | / dm-raid1 |")
    md.append("|---|---|---|---|---|---|")
    for c, label in (("dd", "dd O_DIRECT bs=1M"), ("mirror-plain", "ccm-mirror plain"),
                     ("raid1", "dm-raid1 resync"), ("mirror-enc", "ccm-mirror encrypted (512 B blocks)")):
        b = copy_best.get(c)
        if not b:
            md.append(f"| {label} | | | n/a | | |")
            continue
        md.append(f"| {label} | {b['MiB']} MiB | {b['seconds']:.2f} | {b['MBps']:.1f} | "
                  f"{fmt_ratio(ratio(b['MBps'], copy_mbps('dd')))} | "
                  f"{fmt_ratio(ratio(b['MBps'], copy_mbps('raid1')))} |")
    md.append("")
    if load_:
        md.append("Copy under a 4 KiB random read load (fio QD1 on the mapping; "
                  "the baseline is the same fio on dm-linear with no copy):\n")
        md.append("| copy | rate limit MiB/s | copy MB/s | reads IOPS | read p50 us | read p99 us |")
        md.append("|---|---|---|---|---|---|")
        for c, label in (("linear", "none (dm-linear)"), ("mirror-plain", "ccm-mirror plain"),
                         ("mirror-plain-rate", "ccm-mirror plain, rate-limited"),
                         ("raid1", "dm-raid1 resync"), ("mirror-enc", "ccm-mirror encrypted")):
            s = load_.get(c)
            if not s:
                continue
            b = s[-1]
            md.append(f"| {label} | {b.get('rate_limit', '') or ('-' if c == 'linear' else 'none')} | "
                      f"{fmt_num(b.get('MBps') if c != 'linear' else None, 1) if c != 'linear' else '-'} | "
                      f"{b.get('read_iops', b.get('iops'))} | {b.get('clat_p50_us')} | {b.get('clat_p99_us')} |")
        md.append("")
    if cipher:
        md.append("Raw cipher through AF_ALG (bench/afalg-ccm.c; MB/s of payload; "
                  "ccm format construction: 13-byte nonce, 24-byte AAD, 16-byte tag, AES-256):\n")
        md.append("| algorithm (driver) | block | threads | encrypt MB/s | decrypt MB/s |")
        md.append("|---|---|---|---|---|")
        for x in cipher:
            md.append(f"| {x['alg']} ({x.get('driver', '?')}) | {x['block']} | {x['threads']} | "
                      f"{x['encrypt_MBps']:.1f} | {x.get('decrypt_MBps', 0):.1f} |")
        md.append("")
    md.append("Targets:\n")
    md.append("| target | measured (worst case) | met |")
    md.append("|---|---|---|")
    for t in targets:
        if t["met"] is None:
            md.append(f"| {t['target']} | not available | n/a |")
        else:
            md.append(f"| {t['target']} | {t['worst_ratio']:.2f} ({t['worst']}) | "
                      f"{'yes' if t['met'] else 'NO'} |")
    md.append("")
    with open(a.md, "w") as f:
        f.write("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
