#!/usr/bin/env python3
"""Turn the BENCH lines of one kernel's bench run into tables and JSON.

    report.py KVER RAW_LINES TXT_OUT JSON_OUT

RAW_LINES holds the guests' "BENCH <bench> key=value ..." lines. Ratios are
the median of per-round ratios (subject / baseline measured in the same
round, minutes apart at most), so a drift of the whole VM cancels; the
spread (lowest-highest per-round ratio) is shown in brackets.
"""
import json
import math
import statistics
import sys
import time


def parse(path):
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 2 or parts[0] != "BENCH":
                continue
            row = {"bench": parts[1]}
            for kv in parts[2:]:
                k, sep, v = kv.partition("=")
                if sep:
                    row[k] = v
            rows.append(row)
    return rows


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


TRACK_JOBS = [
    ("rand-1st", "4 KiB randwrite, 1st pass (blocks unmarked)", "iops", "IOPS"),
    ("rand-2nd", "4 KiB randwrite, 2nd pass (blocks marked)", "iops", "IOPS"),
    ("seq-1st", "1 MiB seq write, 1st pass", "bw", "MiB/s"),
    ("seq-2nd", "1 MiB seq write, 2nd pass", "bw", "MiB/s"),
    ("ext4-peers", "PEERS: ext4 + 4 KiB randwrite, 48 MB file", "iops", "IOPS"),
]


def by_round(rows):
    """The rows as {rep: {cfg: row}}: each round's row of each config."""
    by_rep = {}
    for r in rows:
        by_rep.setdefault(r["rep"], {})[r["cfg"]] = r
    return by_rep


def per_config(by_rep, configs):
    """(cfg, its rows, one per round that has it) for each config in order
    that has any."""
    for cfg in configs:
        rs = [c[cfg] for c in by_rep.values() if cfg in c]
        if rs:
            yield cfg, rs


def median_ci(vals):
    """A 95% confidence interval of the median of @vals (distribution-free:
    the order statistics n/2 -+ 0.98 sqrt(n)), or None below 6 values."""
    n = len(vals)
    if n < 6:
        return None
    v = sorted(vals)
    lo = max(math.floor(n / 2 - 0.98 * math.sqrt(n)), 1)
    hi = min(math.ceil(n / 2 + 1 + 0.98 * math.sqrt(n)), n)
    return v[lo - 1], v[hi - 1]


def ratio_stats(by_rep, cfg, base, metric):
    """cfg's metric over base's, per round that has both: median, min, max,
    n, and the median's 95% interval (ci) from 6 rounds on."""
    rs = []
    for rep, cfgs in sorted(by_rep.items()):
        a, b = cfgs.get(cfg), cfgs.get(base)
        if a and b and num(a.get(metric)) and num(b.get(metric)):
            rs.append(num(a[metric]) / num(b[metric]))
    if not rs:
        return None
    return {"median": statistics.median(rs), "min": min(rs), "max": max(rs), "n": len(rs),
            "ci": median_ci(rs)}


def best_ratio(by_rep, cfg, base, metric):
    """Best run of the subject over best run of the baseline: host noise
    only ever slows a run down, so the best runs are the least disturbed."""
    a = [num(c[cfg][metric]) for c in by_rep.values() if cfg in c and num(c[cfg].get(metric))]
    b = [num(c[base][metric]) for c in by_rep.values() if base in c and num(c[base].get(metric))]
    return max(a) / max(b) if a and b else None


def rfmt(r):
    if r is None:
        return "-"
    return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def tracking(rows, out, js):
    head = next((r for r in rows if r["bench"] == "tracking" and "configs" in r), None)
    res = [r for r in rows if r["bench"] == "tracking" and "job" in r]
    if not res:
        return
    configs = head["configs"].split(",") if head else sorted({r["cfg"] for r in res})
    out.append("== bench_tracking: fio write throughput, ratio to dm-linear and to raw ==")
    if head:
        out.append(f"   rounds: {head.get('reps')} (block devices), {head.get('peers_reps', head.get('reps'))} (ext4); "
                   f"random region {head.get('rand_size')}, "
                   f"sequential {head.get('seq_size')}; medians; ratio = median of per-round "
                   "ratios (lowest-highest);")
        out.append("   best/lin, best/raw: the best run of the configuration over the best run of the baseline")
    out.append("")
    out.append(f"{'workload / config':<30} {'median':>10} {'unit':<6} {'vs linear':>18} {'vs raw':>18} "
               f"{'best/lin':>8} {'best/raw':>8}")
    js["tracking"] = []
    for job, title, metric, unit in TRACK_JOBS:
        by_rep = by_round(r for r in res if r["job"] == job)
        if not by_rep:
            continue
        out.append(title)
        for cfg in configs:
            vals = [num(c[cfg][metric]) for c in by_rep.values() if cfg in c]
            if not vals:
                continue
            m = med(vals)
            if metric == "bw" and m is not None:
                m /= 1024.0
            lin = ratio_stats(by_rep, cfg, "linear", metric)
            raw = ratio_stats(by_rep, cfg, "raw", metric)
            lat = med([num(c[cfg].get("lat_us")) for c in by_rep.values() if cfg in c])
            bl, br = best_ratio(by_rep, cfg, "linear", metric), best_ratio(by_rep, cfg, "raw", metric)
            out.append(f"  {cfg:<28} {fmt(m, 0):>10} {unit:<6} {rfmt(lin):>18} {rfmt(raw):>18} "
                       f"{fmt(bl):>8} {fmt(br):>8}")
            js["tracking"].append({
                "workload": job, "config": cfg, "metric": unit, "median": m,
                "runs": vals if metric != "bw" else [v / 1024.0 for v in vals if v is not None],
                "mean_latency_us": lat, "vs_linear": lin, "vs_raw": raw,
                "best_vs_linear": bl, "best_vs_raw": br})
    st = [r for r in rows if r["bench"] == "tracking-status"]
    if st:
        out.append("")
        out.append("dmsetup status of the block-bench cbt devices at the end:")
        for r in st:
            out.append(f"  {r.get('cfg')}: {r.get('status', '').replace(',', ' ')}")
    out.append("")


def dump(rows, out, js):
    res = [r for r in rows if r["bench"] == "dump"]
    if not res:
        return
    out.append("== bench_dump: 1 TiB device (cbt over dm-zero), `cbt bitmap --summary` wall time ==")
    noop = next((r for r in res if r.get("pattern") == "noop"), None)
    if noop:
        out.append(f"   timing overhead (two clock reads around a no-op): {num(noop['dump_us']) / 1000:.1f} ms, "
                   "included below")
    start = next((r for r in res if r.get("pattern") == "start"), None)
    if start:
        out.append(f"   process start: /bin/true {num(start['true_us']) / 1000:.1f} ms, "
                   f"`cbt --version` {num(start['version_us']) / 1000:.1f} ms (medians of 5)")
    out.append("")
    out.append(f"{'block':>6} {'pattern':<9} {'how':<8} {'blocks set':>11} {'bitmap mem':>11} "
               f"{'load ms':>8} {'dump ms':>8} {'min ms':>7} {'- empty':>8} {'kernel':>7} {'kcount':>7} {'kdev':>6}  runs (ms)")
    js["dump"] = {"noop_us": num(noop["dump_us"]) if noop else None, "rows": [],
                  "true_ms": num(start["true_us"]) / 1000 if start else None,
                  "version_ms": num(start["version_us"]) / 1000 if start else None}
    loads = {(r["block"], r["pattern"]): num(r["load_us"]) for r in res if "load_us" in r}
    marks = {(r["block"], r["pattern"]): num(r["mark_us"]) for r in res if "mark_us" in r}
    empty = {r["block"]: num(r["dump_us"]) for r in res if r.get("pattern") == "none" and "dump_us" in r}
    for r in res:
        if "dump_us" not in r or r.get("pattern") in ("noop", "start"):
            continue
        key = (r["block"], r["pattern"])
        blk = f"{int(r['block']) // 1024}K"
        load = loads.get(key) if r["how"] == "loaded" else marks.get(key)
        mem = int(r["bitmap_bytes"])
        memtxt = f"{mem / 1048576:.2f} MiB" if mem >= 1048576 else f"{mem / 1024:.0f} KiB"
        runs = [num(x) / 1000 for x in r.get("runs_us", "").split(",") if x]
        net = (num(r["dump_us"]) - empty[r["block"]]) / 1000 if r["block"] in empty else None
        out.append(f"{blk:>6} {r['pattern']:<9} {r['how']:<8} {int(r['blocks_set']):>11} {memtxt:>11} "
                   f"{fmt(load / 1000 if load else None, 0):>8} {num(r['dump_us']) / 1000:>8.1f} {fmt(min(runs) if runs else None, 1):>7} {fmt(net, 1):>8} {fmt(num(r.get('kdump_us')) / 1000 if r.get('kdump_us') else None, 1):>7} {fmt(num(r.get('kcount_us')) / 1000 if r.get('kcount_us') else None, 1):>7} {fmt(num(r.get('kdev_us')) / 1000 if r.get('kdev_us') else None, 1):>6}  "
                   + " ".join(f"{x:.0f}" for x in runs))
        js["dump"]["rows"].append({
            "block_bytes": int(r["block"]), "pattern": r["pattern"], "how": r["how"],
            "blocks_set": int(r["blocks_set"]), "bitmap_bytes": mem,
            ("load_ms" if r["how"] == "loaded" else "mark_ms"): load / 1000 if load else None,
            "dump_ms": num(r["dump_us"]) / 1000, "dump_minus_empty_ms": net, "dump_min_ms": min(runs) if runs else None,
            "kernel_dump_ms": num(r.get("kdump_us")) / 1000 if r.get("kdump_us") else None,
            "kernel_count_ms": num(r.get("kcount_us")) / 1000 if r.get("kcount_us") else None,
            "kernel_device_ms": num(r.get("kdev_us")) / 1000 if r.get("kdev_us") else None, "runs_ms": runs})
    out.append("   dump ms: median wall time of the whole `cbt bitmap --summary` process (min ms: the fastest")
    out.append("   run, the least disturbed by the host); - empty: median minus")
    out.append("   the same for an empty bitmap at that block size (process start, netlink setup), i.e.")
    out.append("   what the bits cost. load ms: `dmsetup create` reading the bitmap from metadata; for")
    out.append("   \"written\", the time fio took to mark the blocks. kernel: the same dump received by")
    out.append("   nlprobe (no decoding, a small static program): kernel + socket, plus its own start.")
    out.append("   kcount: the COUNT_BITMAP request --summary sends, by nlprobe: the kernel's count, plus")
    out.append("   nlprobe's start. kdev: GET_DEVICE with every epoch's count (what `cbt status` asks;")
    out.append("   --summary asks without the counts), by nlprobe")
    out.append("")


SNAP_JOBS = [
    ("rand-1st", "4 KiB randwrite, 1st pass (snapshot: copy-on-write)"),
    ("rand-2nd", "4 KiB randwrite, 2nd pass (chunks already copied)"),
    ("once", "4 KiB randwrite, once copied, snapshots active through every round (no take between)"),
]


def snapshot(rows, out, js):
    res = [r for r in rows if r["bench"] == "snapshot" and "job" in r]
    skip = next((r for r in rows if r["bench"] == "snapshot" and "skipped" in r), None)
    if skip:
        out.append("== bench_snapshot: skipped: " + skip["skipped"].replace("_", " ") + " ==")
        out.append("")
        js["snapshot"] = {"skipped": skip["skipped"]}
        return
    if not res:
        return
    head = next((r for r in rows if r["bench"] == "snapshot" and "configs" in r), None)
    configs = head["configs"].split(",") if head else sorted({r["cfg"] for r in res})
    # The once-copied part runs its own configurations whatever the first part's.
    configs += sorted({r["cfg"] for r in res} - set(configs))
    out.append("== bench_snapshot: fio 4 KiB randwrite on the origin, ratio to dm-linear ==")
    out.append("")
    out.append(f"{'workload / config':<30} {'median':>10} {'unit':<6} {'vs linear':>18} {'vs cbt':>18} "
               f"{'best/lin':>8} {'best/cbt':>8} {'lin 95%':>10}")
    js["snapshot"] = []
    for job, title in SNAP_JOBS:
        by_rep = by_round(r for r in res if r["job"] == job)
        if not by_rep:
            continue
        out.append(title)
        for cfg in configs:
            vals = [num(c[cfg]["iops"]) for c in by_rep.values() if cfg in c]
            if not vals:
                continue
            lin = ratio_stats(by_rep, cfg, "linear", "iops")
            cbt = ratio_stats(by_rep, cfg, "cbt", "iops")
            bl, bc = best_ratio(by_rep, cfg, "linear", "iops"), best_ratio(by_rep, cfg, "cbt", "iops")
            ci = lin["ci"] if lin and cfg != "linear" else None
            out.append(f"  {cfg:<28} {fmt(med(vals), 0):>10} {'IOPS':<6} {rfmt(lin):>18} {rfmt(cbt):>18} "
                       f"{fmt(bl):>8} {fmt(bc):>8} {f'{ci[0]:.2f}-{ci[1]:.2f}' if ci else '-':>10}")
            js["snapshot"].append({"workload": job, "config": cfg, "metric": "IOPS",
                                   "median": med(vals), "runs": vals, "vs_linear": lin, "vs_cbt": cbt,
                                   "best_vs_linear": bl, "best_vs_cbt": bc})
    out.append("   lin 95%: a 95% interval of the median ratio to dm-linear (from 6 rounds on); a goal")
    out.append("   inside it is neither met nor missed by this run")
    out.append("")


def mib(v):
    return None if v is None else v / 1048576.0


def backup(rows, out, js):
    head = next((r for r in rows if r["bench"] == "backup" and "configs" in r), None)
    full = [r for r in rows if r["bench"] == "backup" and r.get("phase") == "full"]
    inc = [r for r in rows if r["bench"] == "backup" and r.get("phase") == "inc"]
    chain = next((r for r in rows if r["bench"] == "backup" and r.get("phase") == "chain-full"), None)
    if not full and not inc:
        return
    configs = head["configs"].split(",") if head else sorted({r["cfg"] for r in full})
    dev = num(head.get("dev_bytes")) if head else None
    used = num(head.get("df_used_bytes")) if head else None
    size = num(head.get("df_size_bytes")) if head else None
    js["backup"] = {"setup": head, "full": [], "incremental": []}
    out.append("== bench_backup: `cbt backup` full images against `dd | zstd -3`, and incrementals ==")
    if head:
        out.append(f"   cbt device {mib(dev):.0f} MiB ({int(head.get('block', 0)) // 1024} KiB blocks, "
                   f"metadata disk), ext4 mounted: {fmt(mib(num(head.get('data_bytes'))), 0)} MiB of files "
                   f"(zstd halves them); df: {fmt(mib(used), 1)} MiB used of {fmt(mib(size), 0)} MiB; "
                   f"zstd {head.get('zstd', '?')}")
    out.append("")
    by_rep = by_round(full)
    if by_rep:
        out.append(f"Full image ({len(by_rep)} rounds; medians; speed vs dd-zstd: median of per-round "
                   "dd-zstd time / this time, lowest-highest; >1 = faster)")
        out.append(f"  {'config':<10} {'time s':>7} {'dev MiB/s':>9} {'read MiB':>9} {'image MiB':>9} "
                   f"{'stored MiB':>10} {'img/used':>8} {'stored/used':>11} {'speed vs dd-zstd':>18}")
        for cfg, rs in per_config(by_rep, configs):
            t = med([num(r["time_us"]) / 1e6 for r in rs])
            rd = med([num(r.get("read_bytes")) for r in rs])
            lg = med([num(r.get("logical_bytes")) for r in rs])
            st = med([num(r.get("stored_bytes")) for r in rs])
            spd = ratio_stats(by_rep, "dd-zstd", cfg, "time_us")
            snap = med([num(r.get("snap_us")) / 1e6 for r in rs if r.get("snap_us")])
            out.append(f"  {cfg:<10} {fmt(t, 1):>7} {fmt(mib(dev) / t if dev and t else None, 1):>9} "
                       f"{fmt(mib(rd), 0):>9} {fmt(mib(lg), 0):>9} {fmt(mib(st), 1):>10} "
                       f"{fmt(lg / used if lg and used else None):>8} {fmt(st / used if st and used else None):>11} "
                       f"{rfmt(spd):>18}")
            js["backup"]["full"].append({
                "config": cfg, "time_s": t, "runs_s": [num(r["time_us"]) / 1e6 for r in rs],
                "device_mib_per_s": mib(dev) / t if dev and t else None, "read_bytes": rd,
                "logical_bytes": lg, "stored_bytes": st, "snapshot_take_drop_s": snap,
                "logical_vs_df_used": lg / used if lg and used else None,
                "stored_vs_df_used": st / used if st and used else None, "speed_vs_dd_zstd": spd})
        dd = next((e for e in js["backup"]["full"] if e["config"] == "dd-zstd"), None)
        if dd and dd["snapshot_take_drop_s"] is not None:
            out.append(f"  dd-zstd's time is the pipeline and a sync; taking and dropping its snapshot took "
                       f"another {dd['snapshot_take_drop_s']:.1f} s (cbt's times are the whole process:")
            out.append("  snapshot with freeze, image, fsync, chain index, commit, drop). dev MiB/s: device size / time;")
            out.append("  read MiB: what was read (cbt-full: the blocks ext4's bitmaps mark in use, metadata and journal")
            out.append("  included, in whole 64 KiB blocks); image MiB: the blocks the image holds (cbt-full leaves out")
            out.append("  the all-zero ones among those read); used: df's used space of the ext4")
    if chain:
        out.append(f"  chain's full image (the incrementals' parent): {num(chain['time_us']) / 1e6:.1f} s, "
                   f"{mib(num(chain.get('logical_bytes'))):.0f} MiB logical, "
                   f"{mib(num(chain.get('stored_bytes'))):.1f} MiB stored")
    out.append("")
    full_t = med([num(r["time_us"]) / 1e6 for r in full if r["cfg"] == "cbt-full"])
    if inc:
        pcts = sorted({int(r["pct"]) for r in inc})
        t0 = med([num(r["time_us"]) / 1e6 for r in inc if int(r["pct"]) == 0])
        nreps = len({r["rep"] for r in inc})
        out.append(f"Incremental images ({nreps} rounds; medians): the changes are 4 KiB writes at distinct")
        out.append("random 64 KiB-aligned offsets of one file, one per tracking block to change")
        out.append(f"  {'changed':<8} {'blocks':>7} {'MiB':>7} {'stored MiB':>10} {'time s':>7} "
                   f"{'- 0% s':>7} {'s/MiB':>7} {'marg s/MiB':>10} {'inc/full':>8} {'runs s':>16}")
        for p in pcts:
            rs = [r for r in inc if int(r["pct"]) == p]
            t = med([num(r["time_us"]) / 1e6 for r in rs])
            blocks = med([num(r.get("blocks")) for r in rs])
            lg = med([num(r.get("logical_bytes")) for r in rs])
            st = med([num(r.get("stored_bytes")) for r in rs])
            m = mib(lg) if lg else None
            per = t / m if m and p else None
            marg = (t - t0) / m if m and p and t0 is not None else None
            ratio = t / full_t if full_t else None
            runs = [num(r["time_us"]) / 1e6 for r in rs]
            out.append(f"  {str(p) + '%':<8} {fmt(blocks, 0):>7} {fmt(m, 1):>7} {fmt(mib(st), 1):>10} "
                       f"{fmt(t, 2):>7} {fmt(t - t0 if t0 is not None and p else None, 2):>7} "
                       f"{fmt(per, 3):>7} {fmt(marg, 3):>10} {fmt(ratio):>8} "
                       f"{' '.join(f'{x:.1f}' for x in runs):>16}")
            js["backup"]["incremental"].append({
                "changed_pct": p, "blocks": blocks, "logical_bytes": lg, "stored_bytes": st,
                "time_s": t, "runs_s": runs, "minus_0pct_s": t - t0 if t0 is not None else None,
                "s_per_changed_mib": per, "marginal_s_per_changed_mib": marg,
                "vs_full_time": ratio, "target_blocks": num(rs[0].get("target_blocks"))})
        out.append("  blocks, MiB: what the image holds (changed tracking blocks; the journal and inode blocks")
        out.append("  ext4 wrote too); - 0%: time minus the 0% incremental's (the fixed cost: snapshot, freeze,")
        out.append("  bitmap, chain index, commit); marg s/MiB: that per changed MiB; inc/full: time over the")
        out.append(f"  median cbt-full time ({fmt(full_t, 1)} s)")
        out.append("")


def parse_rate(v):
    v = v.strip().lower()
    mult = {"k": 1024, "m": 1048576, "g": 1073741824}.get(v[-1:], 1)
    return float(v.rstrip("kmg")) * mult


def backup_latency(rows, out, js):
    lat = {r.get("cfg"): r for r in rows if r["bench"] == "backup" and r.get("phase") == "lat"}
    lin = lat.get("linear", {})
    l50, l99 = num(lin.get("p50_us")), num(lin.get("p99_us"))
    if not lat:
        return
    out.append("== bench_backup: write latency (fio 4 KiB randwrite to a file, O_DIRECT, iodepth 16, "
               f"--rate {lin.get('rate', '?')}) ==")
    out.append(f"  {'config':<8} {'p50 us':>7} {'p99 us':>7} {'p50 vs linear':>13} {'p99 vs linear':>13}")
    js["backup_latency"] = []
    for cfg in ("linear", "cbt", "backup"):
        r = lat.get(cfg)
        if not r:
            continue
        p50, p99 = num(r.get("p50_us")), num(r.get("p99_us"))
        r50 = p50 / l50 if p50 and l50 else None
        r99 = p99 / l99 if p99 and l99 else None
        out.append(f"  {cfg:<8} {fmt(p50, 0):>7} {fmt(p99, 0):>7} {fmt(r50):>13} {fmt(r99):>13}")
        js["backup_latency"].append({"config": cfg, "p50_us": p50, "p99_us": p99,
                                     "p50_vs_linear": r50, "p99_vs_linear": r99})
    out.append("  linear: the ext4 mounted through dm-linear; cbt: through cbt, no backup; backup: the")
    out.append("  writes that completed while `cbt backup --full` ran (its snapshot's freeze included)")
    out.append("")


def scale(rows, out, js):
    growth = [r for r in rows if r["bench"] == "scale" and r.get("phase") == "growth"]
    bk = next((r for r in rows if r["bench"] == "scale" and r.get("phase") == "backups"), None)
    if not growth and not bk:
        return
    js["scale"] = {"growth": [], "backups": None}
    out.append("== bench_scale: many cbt devices (2 MiB slices, 4 KiB blocks, half with metadata) ==")
    if growth:
        out.append(f"  {'devices':>7} {'load ms/dev':>11} {'linear ms/dev':>13} {'kmem KiB/dev idle':>17} "
                   f"{'written':>7} {'bitmap B/dev':>12} {'status ms':>9} {'close+commit ms/dev':>19} "
                   f"{'2 x cbt start ms':>16}")
        for r in sorted(growth, key=lambda r: num(r["devices"])):
            n, add = num(r["devices"]), num(r["added"])
            per = lambda k: num(r[k]) / 1000 / add
            idle = (num(r["kmem_idle_kib"]) - num(r["kmem_before_kib"])) / add
            wr = (num(r["kmem_written_kib"]) - num(r["kmem_before_kib"])) / add
            bm = num(r["bitmap_written"]) / add  # earlier steps' bits were committed
            cc = num(r["close_commit_us"]) / 1000 / n
            noop = 2 * num(r["noop_us"]) / 1000 / n
            out.append(f"  {int(n):>7} {fmt(per('load_us')):>11} {fmt(per('linear_us')):>13} {fmt(idle, 1):>17} "
                       f"{fmt(wr, 1):>7} {fmt(bm, 0):>12} {fmt(num(r['status_us']) / 1000, 0):>9} "
                       f"{fmt(cc, 1):>19} {fmt(noop, 1):>16}")
            js["scale"]["growth"].append({
                "devices": n, "added": add, "load_ms_per_device": per("load_us"),
                "linear_ms_per_device": per("linear_us"), "kmem_kib_per_device_idle": idle,
                "kmem_kib_per_device_written": wr, "bitmap_bytes_per_device": bm,
                "status_all_ms": num(r["status_us"]) / 1000, "close_commit_ms_per_device": cc,
                "two_process_starts_ms": noop})
        alls = [r for r in growth if r.get("close_all_us")]
        if alls:
            out.append(f"  {'devices':>7} {'close --all ms/dev':>18} {'commit --all ms/dev':>19} "
                       f"{'kmem KiB/dev held':>17} {'live':>6} {'linear held':>11} {'live':>6}")
        for r in sorted(alls, key=lambda r: num(r["devices"])):
            n, add = num(r["devices"]), num(r["added"])
            w0 = num(r["kmem_w0_kib"])
            lin0 = num(r["kmem_w_live_kib"])
            row = {"close_all_ms_per_device": num(r["close_all_us"]) / 1000 / n,
                   "commit_all_ms_per_device": num(r["commit_all_us"]) / 1000 / n,
                   "written_held_kib_per_device": (num(r["kmem_w_held_kib"]) - w0) / add,
                   "written_live_kib_per_device": (num(r["kmem_w_live_kib"]) - w0) / add,
                   "linear_held_kib_per_device": (num(r["kmem_lin_held_kib"]) - lin0) / add,
                   "linear_live_kib_per_device": (num(r["kmem_lin_live_kib"]) - lin0) / add}
            out.append(f"  {int(n):>7} {fmt(row['close_all_ms_per_device'], 2):>18} "
                       f"{fmt(row['commit_all_ms_per_device'], 2):>19} "
                       f"{fmt(row['written_held_kib_per_device'], 1):>17} {fmt(row['written_live_kib_per_device'], 1):>6} "
                       f"{fmt(row['linear_held_kib_per_device'], 1):>11} {fmt(row['linear_live_kib_per_device'], 1):>6}")
            for g in js["scale"]["growth"]:
                if g["devices"] == n:
                    g.update(row)
        slabs = [r for r in rows if r["bench"] == "scale" and r.get("phase") == "slab"]
        js["scale"]["slab"] = slabs
        for r in sorted(slabs, key=lambda r: num(r["devices"])):
            rest = " ".join(f"{k}={v}" for k, v in r.items()
                            if k not in ("bench", "phase", "devices", "added", "run", "kind"))
            out.append(f"  {r['devices']} devices, +{r['added']}, writes on {r['run']}, {r['kind']} (KiB): {rest}")
        out.append("  per device: of the devices added in that step (load, kmem, bitmap: the earlier ones were")
        out.append("  committed, their bits freed) or of all (close+commit);")
        out.append("  linear: creating as many dm-linear slices (dmsetup's own cost); kmem: Slab + VmallocUsed +")
        out.append("  Percpu growth, idle and after 5 scattered 4 KiB writes per device; close+commit: two cbt")
        out.append("  processes per device, next to the cost of starting two (cbt version); close/commit --all: one")
        out.append("  process for all devices; held/live: kmem growth of the writes with empty slabs kept/released")
        out.append("  (the writes' own; the idle/written columns above count from before the load); linear: the")
        out.append("  same writes on the dm-linear slices under the devices, after the cbt ones")
        out.append("")
    if bk:
        ser, par = num(bk["serial_us"]), num(bk["parallel_us"])
        sb, pb = num(bk.get("serial_bytes")), num(bk.get("parallel_bytes"))
        thr = (pb / par) / (sb / ser) if ser and par and sb and pb else None
        out.append(f"  {bk['n']} incrementals: serial {fmt(ser / 1e6, 1)} s ({fmt(mib(sb), 1)} MiB read), "
                   f"parallel {fmt(par / 1e6, 1)} s ({fmt(mib(pb), 1)} MiB read): throughput ratio {fmt(thr)}")
        nu, nb = num(bk.get("niced_us")), num(bk.get("niced_bytes"))
        nthr = (nb / nu) / (sb / ser) if ser and nu and sb and nb else None
        if nu:
            out.append(f"  the same 16 at once at nice 10, best-effort I/O priority 7 (cbt-job@.service): "
                       f"{fmt(nu / 1e6, 1)} s ({fmt(mib(nb), 1)} MiB read): throughput ratio {fmt(nthr)}")
        i50, i99 = num(bk["idle_p50_us"]), num(bk["idle_p99_us"])
        for k in ("serial", "parallel", "niced"):
            if f"{k}_p99_us" not in bk:
                continue
            p50, p99 = num(bk[f"{k}_p50_us"]), num(bk[f"{k}_p99_us"])
            out.append(f"  17th device's writes during the {k} backups: p50 {fmt(p50, 0)} us, p99 {fmt(p99, 0)} us; "
                       f"no backups: {fmt(i50, 0)} / {fmt(i99, 0)} us; p99 ratio (no backups / during) "
                       f"{fmt(i99 / p99 if p99 and i99 else None)}")
        js["scale"]["backups"] = {"raw": bk, "throughput_parallel_vs_serial": thr,
                                  "throughput_niced_vs_serial": nthr}
        # BENCH_PRIOS rounds, in the order run; prio=none is the quiet window after them
        prio = [r for r in rows if r["bench"] == "scale" and r.get("phase") == "prio"]
        js["scale"]["prio"] = prio
        quiet = next((num(r["p99_us"]) for r in prio if r.get("prio") == "none"), None)
        for r in prio:
            p99 = num(r["p99_us"])
            what = ("no backups (after the rounds)" if r.get("prio") == "none"
                    else f"16 at once at {r.get('prio')}, {fmt(num(r['us']) / 1e6, 1)} s")
            out.append(f"  17th device's writes, {what}: p50 {fmt(num(r['p50_us']), 0)} us, p99 {fmt(p99, 0)} us; "
                       f"p99 ratio to the quiet window {fmt(quiet / p99 if quiet and p99 else None)}; "
                       f"kernel threads {r.get('kthread_ticks')} of {r.get('cpu_ticks')} busy ticks")
            kt = [x for x in rows if x["bench"] == "scale" and x.get("phase") == "kthreads"
                  and x.get("prio") == r.get("prio")]
            if kt:
                out.append("    kernel threads by name (ticks, threads): " +
                           ", ".join(f"{x.get('name')} {x.get('ticks')} ({x.get('threads')})" for x in kt))
        js["scale"]["kthreads"] = [r for r in rows if r["bench"] == "scale" and r.get("phase") == "kthreads"]
        waits = [r for r in rows if r["bench"] == "scale" and r.get("phase") == "waits"]
        js["scale"]["waits"] = waits
        for k in ("serial", "parallel"):
            w = [r for r in waits if r.get("round") == k]
            if w:
                out.append(f"  where tasks waited in dm_cbt during the {k} backups "
                           f"(task samples, of {w[0].get('samples')} samples):")
                for r in w:
                    out.append(f"    {r.get('n'):>5}  {r.get('where')}")
        out.append("")


def sparse(rows, out, js):
    rs = [r for r in rows if r["bench"] == "sparse"]
    if not rs:
        return
    js["sparse"] = rs
    out.append("== bench_sparse: cbt in memory over dm-zero, 4 KiB blocks, scattered 4 MiB runs ==")
    out.append(f"  {'TiB':>4} {'runs':>6} {'blocks set':>10} {'bitmap idle':>11} {'written':>10} "
               f"{'committed':>10} {'write s':>7} {'bitmap ms':>9} {'close ms':>8} {'commit ms':>9} "
               f"{'cbt start ms':>12}")
    for r in rs:
        ms = lambda k: fmt(num(r[k]) / 1000, 0)
        out.append(f"  {r['tib']:>4} {r['runs']:>6} {r['blocks_set']:>10} {r['bitmap_idle']:>11} "
                   f"{r['bitmap_written']:>10} {r['bitmap_committed']:>10} "
                   f"{fmt(num(r['write_us']) / 1e6, 1):>7} {ms('dump_us'):>9} {ms('close_us'):>8} "
                   f"{ms('commit_us'):>9} {ms('noop_us'):>12}")
    out.append("  bitmap: bytes from dmsetup status; bitmap/close/commit: whole cbt processes (median of 3")
    out.append("  for bitmap --summary), next to one `cbt version'")
    out.append("")


def clone(rows, out, js):
    head = next((r for r in rows if r["bench"] == "clone" and "configs" in r), None)
    idle = [r for r in rows if r["bench"] == "clone" and r.get("phase") == "idle"]
    load = [r for r in rows if r["bench"] == "clone" and r.get("phase") == "load"]
    lat = [r for r in rows if r["bench"] == "clone" and r.get("phase") == "lat"]
    if not idle and not load:
        return
    configs = head["configs"].split(",") if head else sorted({r["cfg"] for r in idle})
    dev = num(head.get("dev_bytes")) if head else None
    js["clone"] = {"setup": head, "idle": [], "load": []}
    out.append("== bench_clone: `cbt clone` of an idle device against dd, and under a write load ==")
    if head:
        out.append(f"   source: cbt device {mib(dev):.0f} MiB ({int(head.get('block', 0)) // 1024} KiB blocks, "
                   "metadata disk), no filesystem; target: another disk of the same size")
    out.append("")
    by_rep = by_round(idle)
    clone_t = None
    if by_rep:
        out.append(f"Idle device ({len(by_rep)} rounds; medians; speed vs dd: median of per-round dd time / "
                   "this time, lowest-highest; >1 = faster)")
        out.append(f"  {'config':<8} {'time s':>7} {'MiB/s':>7} {'copied MiB':>10} {'passes':>6} "
                   f"{'speed vs dd':>18} {'runs s':>16}")
        for cfg, rs in per_config(by_rep, configs):
            runs = [num(r["time_us"]) / 1e6 for r in rs]
            t = med(runs)
            b = med([num(r.get("bytes")) for r in rs])
            spd = ratio_stats(by_rep, "dd", cfg, "time_us")
            passes = med([num(r.get("passes")) for r in rs])
            if cfg == "clone":
                clone_t = t
            out.append(f"  {cfg:<8} {fmt(t, 1):>7} {fmt(mib(dev) / t if dev and t else None, 1):>7} "
                       f"{fmt(mib(b), 0):>10} {fmt(passes, 0):>6} {rfmt(spd):>18} "
                       f"{' '.join(f'{x:.1f}' for x in runs):>16}")
            js["clone"]["idle"].append({"config": cfg, "time_s": t, "runs_s": runs,
                                        "mib_per_s": mib(dev) / t if dev and t else None,
                                        "bytes": b, "passes": passes, "speed_vs_dd": spd})
        out.append("  dd: dd bs=1M iflag=direct oflag=direct conv=fsync from the cbt device; dd-snap: the same")
        out.append("  from a snapshot of it (the dd only); clone: the whole `cbt clone` process")
        out.append("")
    if load:
        out.append("Under a write load: fio 4 KiB random writes at --rate, one row per clone (each from scratch)")
        out.append(f"  {'rate':>6} {'got MiB/s':>9} {'IOPS':>6} {'passes':>6} {'copied MiB':>10} {'copied/disk':>11} "
                   f"{'time s':>7} {'vs idle':>7} {'COW peak MiB':>12}  {'final reason':<38} per-pass MiB")
        for r in sorted(load, key=lambda r: (parse_rate(r["rate"]), r["rep"])):
            wall = num(r["time_us"]) / 1e6
            wb = num(r.get("write_bytes"))
            got = mib(wb) / wall if wb is not None and wall else None
            iops = num(r.get("write_ios")) / wall if r.get("write_ios") and wall else None
            b = num(r.get("bytes"))
            t = wall
            pb = [mib(num(x)) for x in r.get("pass_bytes", "").split(",") if x]
            cow = max([num(x) for x in r.get("cow_peak", "").split(",") if x] or [0])
            reason = r.get("final_reason", "").replace("_", " ")
            out.append(f"  {r['rate']:>6} {fmt(got, 2):>9} {fmt(iops, 0):>6} {r.get('passes', '-'):>6} "
                       f"{fmt(mib(b), 0):>10} {fmt(b / dev if b is not None and dev else None):>11} "
                       f"{fmt(t, 1):>7} {fmt(t / clone_t if t and clone_t else None):>7} {fmt(mib(cow), 1):>12}  "
                       f"{reason:<38} {' '.join(f'{x:.0f}' for x in pb)}")
            js["clone"]["load"].append({
                "rate": r["rate"], "rate_bytes_per_s": parse_rate(r["rate"]), "rep": r["rep"],
                "write_mib_per_s": got, "write_iops": iops, "passes": num(r.get("passes")),
                "bytes_copied": b, "copied_vs_disk": b / dev if b is not None and dev else None,
                "copy_s": num(r.get("copy_ms")) / 1000 if r.get("copy_ms") else None, "wall_s": wall,
                "vs_idle_clone": t / clone_t if t and clone_t else None,
                "pass_mib": pb, "pass_ms": [num(x) for x in r.get("pass_ms", "").split(",") if x],
                "cow_peak_bytes": cow, "final_reason": reason})
        out.append("  got MiB/s, IOPS: writes the cbt device completed during the clone (its /sys/block stat)")
        out.append("  over the clone's time; time: the whole `cbt clone` process; vs idle: that over the idle")
        out.append("  clone's median time; copied/disk: bytes copied over the device size")
        out.append("")
    if load:
        out.append("The final pass: its downtime (frozen, writes held) against its copy, and the load's write")
        out.append("latency during the clone against dm-linear")
        out.append(f"  {'rate':>6} {'rep':>3} {'last pass ms':>12} {'frozen ms':>9} {'held ms':>7} "
                   f"{'final max us':>12} {'max us':>7} {'p50 us':>7} {'p99 us':>7} "
                   f"{'linear p50/p99/max':>18} {'p50 ratio':>9} {'p99 ratio':>9}")
        for r in sorted(load, key=lambda r: (parse_rate(r["rate"]), r["rep"])):
            pm = [num(x) for x in r.get("pass_ms", "").split(",") if x]
            c = next((x for x in lat if x.get("cfg") == "clone" and x["rate"] == r["rate"] and
                      x.get("rep") == r["rep"]), {})
            lin = next((x for x in lat if x.get("cfg") == "linear" and x["rate"] == r["rate"]), {})
            p50, p99 = num(c.get("p50_us")), num(c.get("p99_us"))
            l50, l99 = num(lin.get("p50_us")), num(lin.get("p99_us"))
            r50 = p50 / l50 if p50 and l50 else None
            r99 = p99 / l99 if p99 and l99 else None
            fr = [x == "true" for x in r.get("pass_frozen", "").split(",") if x]
            fz = [num(x) for x in r.get("pass_freeze_ns", "").split(",") if x]
            hd = [num(x) for x in r.get("pass_hold_ns", "").split(",") if x]
            frozen_ms = fz[-1] / 1e6 if fz and fr and fr[-1] else (0 if fr else None)
            held_ms = hd[-1] / 1e6 if hd else None
            fmax, cmax, lmax = num(c.get("final_max_us")), num(c.get("max_us")), num(lin.get("max_us"))
            out.append(f"  {r['rate']:>6} {r['rep']:>3} {fmt(pm[-1] if pm else None, 0):>12} "
                       f"{fmt(frozen_ms, 1):>9} {fmt(held_ms, 1):>7} {fmt(fmax, 0):>12} {fmt(cmax, 0):>7} "
                       f"{fmt(p50, 0):>7} {fmt(p99, 0):>7} "
                       f"{fmt(l50, 0) + '/' + fmt(l99, 0) + '/' + fmt(lmax, 0):>18} "
                       f"{fmt(r50):>9} {fmt(r99):>9}")
            for j in js["clone"]["load"]:
                if j["rate"] == r["rate"] and j["rep"] == r["rep"]:
                    j.update({"last_pass_ms": pm[-1] if pm else None, "final_frozen_ms": frozen_ms,
                              "final_hold_ms": held_ms, "final_window_ms": num(c.get("final_win_ms")),
                              "final_max_us": fmax, "max_us": cmax, "linear_max_us": lmax,
                              "pass_hold_ms": [x / 1e6 for x in hd],
                              "p50_us": p50, "p99_us": p99,
                              "linear_p50_us": l50, "linear_p99_us": l99,
                              "p50_vs_linear": r50, "p99_vs_linear": r99})
        out.append("  last pass ms: the final pass's copy and flush (DEVICE takes writes meanwhile); frozen ms:")
        out.append("  the filesystem freeze of its snapshot (none here: no filesystem); held ms: the writes held")
        out.append("  while its snapshot was taken (what writers feel as downtime); final max us: the worst write")
        out.append("  latency completed in the final pass's copy and the second before it; max us: over the clone")
        out.append("  ratio: the write latency percentile during the clone over the same load's on dm-linear")
        out.append("  over the same disk, measured just before (higher = slower writes)")
        out.append("")


def merge(rows, out, js):
    head = next((r for r in rows if r["bench"] == "merge" and "incs" in r), None)
    reps = [r for r in rows if r["bench"] == "merge" and "merge_us" in r]
    if not head or not reps:
        return
    ratios = [num(r["merge_us"]) / num(r["full_us"]) for r in reps if num(r["full_us"])]
    out.append("== bench_merge: `cbt merge` of a full image and %s incrementals against a fresh"
               " full backup ==" % head["incs"])
    out.append("merge / full time: %s [%s..%s] over %d rounds; merge %s s, full %s s (medians)" % (
        fmt(med(ratios)), fmt(min(ratios)), fmt(max(ratios)), len(ratios),
        fmt(med([num(r["merge_us"]) / 1e6 for r in reps])),
        fmt(med([num(r["full_us"]) / 1e6 for r in reps]))))
    out.append("")
    js["merge"] = {"setup": head, "rounds": reps, "ratio_median": med(ratios)}


def mount(rows, out, js):
    head = next((r for r in rows if r["bench"] == "mount" and "rounds" in r), None)
    if not head:
        return
    def times(phase, cfg=None):
        return [num(r["time_us"]) for r in rows if r["bench"] == "mount" and r.get("phase") == phase
                and (cfg is None or r.get("cfg") == cfg) and num(r.get("time_us")) is not None]
    def rate(phase):
        v = [num(r["bytes"]) / num(r["time_us"]) for r in rows if r["bench"] == "mount"
             and r.get("phase") == phase and num(r.get("time_us"))]
        return med(v) if v else None
    js["mount"] = {"setup": head}
    out.append("== bench_mount: `cbt mount` to the first byte of a file; reading a mounted point "
               "against `cbt restore` ==")
    for cfg in ("small", "big"):
        t = times("to-first-byte", cfg)
        if t:
            size = num(head.get(cfg + "_dev_bytes")) or 0
            out.append(f"  mount to first byte, {size / 2**30:.0f} GiB device: median {med(t) / 1e6:.2f} s "
                       f"[{min(t) / 1e6:.2f}-{max(t) / 1e6:.2f}]")
            js["mount"]["to_first_byte_" + cfg] = {"median_s": med(t) / 1e6, "runs_s": [x / 1e6 for x in t]}
    rates = {p: rate(p) for p in ("read-files", "read-device", "restore")}
    for p, v in rates.items():
        if v:
            out.append(f"  {p}: {v:.1f} MB/s (median)")
            js["mount"][p.replace("-", "_") + "_MBps"] = v
    if rates["read-device"] and rates["restore"]:
        out.append(f"  reading the mounted point's device / restoring it to a file: "
                   f"{rates['read-device'] / rates['restore']:.2f}")


def migrate(rows, out, js):
    head = next((r for r in rows if r["bench"] == "migrate" and "configs" in r), None)
    runs = [r for r in rows if r["bench"] == "migrate" and r.get("cfg")]
    if not runs:
        return
    configs = head["configs"].split(",") if head else sorted({r["cfg"] for r in runs})
    src = num(head.get("src_bytes")) if head else None
    js["migrate"] = {"setup": head, "configs": []}
    out.append("== bench_migrate: `cbt migrate` of a half-full disk in use against dd of the whole disk ==")
    if head:
        out.append(f"   source {mib(src):.0f} MiB (ESP vfat mounted, root ext4 under cbt mounted, "
                   f"{mib(num(head.get('used_bytes'))):.0f} MiB of data); target "
                   f"{mib(num(head.get('tgt_bytes'))):.0f} MiB")
    by_rep = by_round(runs)
    out.append(f"  {'config':<8} {'time s':>7} {'copied MiB':>10} {'speed vs dd':>18} {'frozen ms':>9} "
               f"{'runs s':>16}")
    for cfg, rs in per_config(by_rep, configs):
        times = [num(r["time_us"]) / 1e6 for r in rs]
        t = med(times)
        b = med([num(r.get("bytes")) for r in rs])
        fr = med([num(r["frozen_ns"]) / 1e6 for r in rs if r.get("frozen_ns")]) \
            if any(r.get("frozen_ns") for r in rs) else None
        spd = ratio_stats(by_rep, "dd", cfg, "time_us")
        out.append(f"  {cfg:<8} {fmt(t, 1):>7} {fmt(mib(b), 0):>10} {rfmt(spd):>18} {fmt(fr, 1):>9} "
                   f"{' '.join(f'{x:.1f}' for x in times):>16}")
        js["migrate"]["configs"].append({"config": cfg, "time_s": t, "runs_s": times, "bytes": b,
                                         "speed_vs_dd": spd, "frozen_ms": fr})
    out.append("  dd: dd bs=1M iflag=direct oflag=direct conv=fsync of the whole source disk; migrate:")
    out.append("  the whole `cbt migrate` process (table, copies, comparisons, resize2fs); frozen: the")
    out.append("  tracked root's last pass; speed vs dd: dd time / this time per round (>1 = faster)")
    out.append("")


def take(rows, out, js):
    r = next((r for r in rows if r["bench"] == "take"), None)
    if not r:
        return
    js["take"] = r
    out.append("== bench_take: snapshot take latency, take/drop loop (4 KiB blocks, metadata) ==")
    out.append(f"  {r.get('rounds', '?')} takes: writes held median {r.get('hold_ms_median', '?')} ms, "
               f"p90 {r.get('hold_ms_p90', '?')} ms; cbt snapshot take wall median "
               f"{r.get('wall_ms_median', '?')} ms, p90 {r.get('wall_ms_p90', '?')} ms")
    out.append("")


def wpath(rows, out, js):
    """bench_wpath: per module, each configuration's IOPS and CPU per write
    as ratios to dm-linear of the same (round, sub-round); with two modules,
    the new one's ratio over the base's, paired the same way."""
    res = [r for r in rows if r["bench"] == "wpath" and "cfg" in r]
    if not res:
        return
    mods = [m for m in ("new", "base") if any(r["mod"] == m for r in res)]
    cfgs = ["cbt", "cbt-snap"]
    out.append("== bench_wpath: 4 KiB psync writes on null_blk, ratio to dm-linear of the same round ==")
    out.append("  median (the median's 95% interval, or min-max below 6 rounds); cpu: usr+sys per write")
    js["wpath"] = []
    per = {}
    for m in mods:
        by_rep = by_round([r for r in res if r["mod"] == m])
        lin = [num(c["linear"]["iops"]) for c in by_rep.values() if "linear" in c]
        linc = [num(c["linear"]["cpu_us"]) for c in by_rep.values() if "linear" in c]
        out.append(f"  module {m}: dm-linear {fmt(med(lin), 0)} IOPS, {fmt(med(linc), 1)} us CPU per write")
        for cfg in cfgs:
            out.append(f"    {cfg:16} best IOPS over dm-linear's best {fmt(best_ratio(by_rep, cfg, 'linear', 'iops'), 3)}")
            for metric in ("iops", "cpu_us"):
                st = ratio_stats(by_rep, cfg, "linear", metric)
                per[(m, cfg, metric)] = {rep: num(c[cfg][metric]) / num(c["linear"][metric])
                                         for rep, c in by_rep.items()
                                         if cfg in c and "linear" in c and num(c["linear"].get(metric))}
                if st:
                    out.append(f"    {cfg:16} {metric:6} {ci_fmt(st)}")
                    js["wpath"].append({"module": m, "config": cfg, "metric": metric, **st})
    if len(mods) == 2:
        new_over_base(per, cfgs, ("iops", "cpu_us"), out, js["wpath"])
    out.append("")


def new_over_base(per, cfgs, metrics, out, js):
    """The new module's ratio to its own dm-linear over the base's, round
    by round; per[(mod, cfg, metric)] = {rep: ratio}."""
    out.append("  new over base, round by round (each module's ratio to its own dm-linear):")
    for cfg in cfgs:
        for metric in metrics:
            a, b = per.get(("new", cfg, metric), {}), per.get(("base", cfg, metric), {})
            rs = [a[k] / b[k] for k in sorted(a) if k in b and b[k]]
            if rs:
                st = {"median": statistics.median(rs), "min": min(rs), "max": max(rs), "n": len(rs),
                      "ci": median_ci(rs)}
                out.append(f"    {cfg:16} {metric:6} {ci_fmt(st)}")
                js.append({"module": "new/base", "config": cfg, "metric": metric, **st})


def snapshot_swap(rows, out, js):
    """bench_snapshot's "once" rounds with SNAP_ONCE_SWAP: each module's
    ratios to dm-linear, and new over base."""
    mods = [m for m in ("new", "base") if any(r["bench"] == "snapshot-" + m and "cfg" in r for r in rows)]
    if not mods:
        return
    cfgs = ["cbt", "cbt-snap", "cbt-preserve", "cbt-preserve-all"]
    out.append("== bench_snapshot, once copied, the tree's module (new) and the base's in alternate order ==")
    out.append("  IOPS ratio to dm-linear: median (its 95% interval, or min-max below 6 rounds)")
    js["snapshot_swap"] = []
    per = {}
    for m in mods:
        by_rep = by_round([r for r in rows if r["bench"] == "snapshot-" + m and "cfg" in r])
        for cfg in cfgs:
            st = ratio_stats(by_rep, cfg, "linear", "iops")
            per[(m, cfg, "iops")] = {rep: num(c[cfg]["iops"]) / num(c["linear"]["iops"])
                                     for rep, c in by_rep.items()
                                     if cfg in c and "linear" in c and num(c["linear"].get("iops"))}
            if st:
                out.append(f"  {m:4} {cfg:16} {ci_fmt(st)}")
                js["snapshot_swap"].append({"module": m, "config": cfg, "metric": "iops", **st})
    if len(mods) == 2:
        new_over_base(per, cfgs, ("iops",), out, js["snapshot_swap"])
    out.append("")


def ramparallel(rows, out, js):
    """bench_ramparallel: per round and phase the 17th device's write
    latency, and per round the quiet phase's p99 over each phase's (the
    goal of issue 16: >= 0.95), with what fio's tasks waited for the CPU."""
    res = [r for r in rows if r["bench"] == "ramparallel" and r.get("phase") not in (None, "slow")]
    if not res:
        return
    js["ramparallel"] = res
    out.append("== bench_ramparallel: 16 incrementals on memory-backed null_blk, chains on tmpfs; the 17th device's 4 KiB writes ==")
    out.append("  round phase     time_ms  MiB read  writes  p50_us  p99_us  p99.9_us  max_us  "
               "fio waited for CPU ms  slices  preempted  gaps>=8ms,max  p99 quiet/phase")
    quiet = {r["round"]: num(r["p99_ns"]) for r in res if r["phase"] == "quiet"}
    ratios = {}
    for r in sorted(res, key=lambda x: (int(x["round"]), x["phase"])):
        q = quiet.get(r["round"])
        p99 = num(r["p99_ns"])
        ratio = q / p99 if q and p99 else None
        if r["phase"] != "quiet" and ratio is not None:
            ratios.setdefault(r["phase"], []).append(ratio)
        out.append(f"  {r['round']:>5} {r['phase']:8} {num(r['us']) / 1000:8.0f} {num(r['bytes']) / 1048576:9.1f} "
                   f"{r['writes']:>7} {num(r['p50_ns']) / 1000:7.1f} {p99 / 1000:7.1f} "
                   f"{num(r['p999_ns']) / 1000:9.1f} {num(r['max_ns']) / 1000:7.1f} "
                   f"{num(r['fio_wait_ns']) / 1e6:22.1f} {r['fio_slices']:>7} {r['fio_preempted']:>10} "
                   f"{r.get('late', '-'):>14}  "
                   f"{fmt(ratio, 3)}")
    for ph, rs in sorted(ratios.items()):
        out.append(f"  p99 quiet / {ph}: median {statistics.median(rs):.3f} ({min(rs):.3f}-{max(rs):.3f}), "
                   f"{len(rs)} rounds (goal >= 0.95)")
    out.append("")


def ci_fmt(st):
    lo, hi = st["ci"] if st.get("ci") else (st["min"], st["max"])
    return f"{st['median']:.3f} ({lo:.3f}-{hi:.3f}), {st['n']} rounds"


def main():
    kver, raw, txt, jsn = sys.argv[1:5]
    rows = parse(raw)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    out = [f"dm-cbt benches, kernel {kver}, {stamp} (qemu TCG: ratios mean something, "
           "absolute numbers little)", ""]
    js = {"kernel": kver, "date": stamp}
    host = {}
    for r in rows:
        if r["bench"] == "host":
            host.update({k: v for k, v in r.items() if k != "bench"})
    if host:
        js["host"] = host
        out.append(f"host: {host.get('nproc', '?')} CPUs, load average before {host.get('load_before', '?')}, "
                   f"after {host.get('load_after', '?')}; tree {host.get('tree', '?')}")
        if host.get("clock") == "instructions":
            out.append("guest clock: instructions (--icount: qemu -icount shift=0, 1 vCPU; "
                       "1 ns per instruction, the host's load out of the figures)")
        out.append("")
    tracking(rows, out, js)
    dump(rows, out, js)
    snapshot(rows, out, js)
    backup(rows, out, js)
    merge(rows, out, js)
    backup_latency(rows, out, js)
    scale(rows, out, js)
    sparse(rows, out, js)
    clone(rows, out, js)
    mount(rows, out, js)
    migrate(rows, out, js)
    take(rows, out, js)
    wpath(rows, out, js)
    snapshot_swap(rows, out, js)
    ramparallel(rows, out, js)
    if len(out) == 2:
        out.append("no results")
    with open(txt, "w") as f:
        f.write("\n".join(out) + "\n")
    with open(jsn, "w") as f:
        json.dump(js, f, indent=1)
        f.write("\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
