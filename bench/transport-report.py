#!/usr/bin/env python3
"""Turns bench/transport.sh's raw.tsv into the markdown report (printed and written to a file).

usage: transport-report.py RAW_TSV OUT_MD key=value...
  (keys: args total load nproc machine node ceph undici s3s3 commit runs)
raw.tsv columns: case transport run objects bytes wall_s maxrss_kib client_cpu_s radosgw_cpu_s osd_cpu_s machine_busy_s
"""
import datetime
import statistics
import sys

raw_path, md_path = sys.argv[1:3]
meta = dict(a.split('=', 1) for a in sys.argv[3:])
MiB = 1048576
LABELS = {'a': '(a) 2000 x 4 KiB', 'b': '(b) 8 x 64 MiB'}
TRANSPORTS = ('http', 'undici')

runs = []
for line in open(raw_path):
    if not line.strip():
        continue
    c, t, n, count, nbytes, wall, rss, cpu, rgw, osd, busy = line.rstrip('\n').split('\t')
    r = dict(case=c, transport=t, run=int(n), count=int(count), bytes=int(nbytes), wall=float(wall),
             rss=int(rss) / 1024, cpu=float(cpu), rgw=float(rgw), osd=float(osd), busy=float(busy))
    # CPU the machine spent on anything but the client and the two Ceph daemons: high means noisy.
    r['other'] = max(0.0, r['busy'] - r['cpu'] - r['rgw'] - r['osd'])
    runs.append(r)


def figures(r):
    """The figures compared, from one run (or from medians)."""
    mib = r['bytes'] / MiB
    return dict(wall=r['wall'], ops=r['count'] / r['wall'], mibs=mib / r['wall'],
                cpu_obj=r['cpu'] * 1000 / r['count'], cpu_mib=r['cpu'] * 1000 / mib if mib else 0.0,
                rss=r['rss'], rgw=r['rgw'], other=r['other'])


# Per case and transport: the median of each figure over the runs (each figure on its own).
med, spread = {}, {}
for c in 'ab':
    for t in TRANSPORTS:
        rs = [figures(r) for r in runs if r['case'] == c and r['transport'] == t]
        if rs:
            med[(c, t)] = {k: statistics.median(f[k] for f in rs) for k in rs[0]}
            walls = [f['wall'] for f in rs]
            spread[(c, t)] = (min(walls), max(walls), len(rs))
cases = [c for c in 'ab' if any(k[0] == c for k in med)]

rows = ['| case | transport | seconds (min-max) | objects/s | MiB/s | client CPU ms/object | client CPU ms/MiB | '
        'peak RSS (MiB) | radosgw CPU s | other CPU s |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
verdicts = []
for c in cases:
    for t in TRANSPORTS:
        m = med.get((c, t))
        if m:
            lo, hi, k = spread[(c, t)]
            rows.append(f"| {LABELS[c]} | {t} | {m['wall']:.2f} ({lo:.2f}-{hi:.2f}) | {m['ops']:.1f} | {m['mibs']:.1f} | "
                        f"{m['cpu_obj']:.3f} | {m['cpu_mib']:.2f} | {m['rss']:.1f} | {m['rgw']:.1f} | {m['other']:.1f} |")
    h, u = med.get((c, 'http')), med.get((c, 'undici'))
    if h and u:
        def x(key):
            return f"{u[key] / h[key]:.2f}x" if h[key] else 'n/a'
        rows.append(f"| {LABELS[c]} | **undici / http** | {x('wall')} | **{x('ops')}** | **{x('mibs')}** | "
                    f"**{x('cpu_obj')}** | **{x('cpu_mib')}** | {x('rss')} | {x('rgw')} | |")
        # Throughput for the small objects is objects/s, for the large ones MiB/s; CPU per unit alike.
        rate, cost = ('ops', 'cpu_obj') if c == 'a' else ('mibs', 'cpu_mib')
        faster = 'undici' if u[rate] > h[rate] else 'http'
        cheaper = 'undici' if u[cost] < h[cost] else 'http'
        lo_h, hi_h, _ = spread[(c, 'http')]
        lo_u, hi_u, _ = spread[(c, 'undici')]
        overlap = max(lo_h, lo_u) <= min(hi_h, hi_u)
        verdicts.append(f"- {LABELS[c]}: faster (median {'objects/s' if rate == 'ops' else 'MiB/s'}): **{faster}** "
                        f"({u[rate] / h[rate]:.2f}x undici/http); less client CPU: **{cheaper}** "
                        f"({u[cost] / h[cost]:.2f}x); wall-clock ranges {'overlap: within the noise' if overlap else 'do not overlap'}")

detail = ['| case | transport | run | seconds | objects/s | MiB/s | client CPU s | peak RSS (MiB) | other CPU s |',
          '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
for r in sorted(runs, key=lambda r: (r['case'], r['run'], r['transport'])):
    f = figures(r)
    detail.append(f"| {LABELS[r['case']]} | {r['transport']} | {r['run']} | {f['wall']:.2f} | {f['ops']:.1f} | "
                  f"{f['mibs']:.1f} | {r['cpu']:.2f} | {f['rss']:.1f} | {f['other']:.1f} |")

nproc = int(meta.get('nproc', '1'))
noisy = [r for r in runs if r['other'] > 0.15 * nproc * r['wall']]
warning = ''
if noisy:
    warning = (f"\n> **Noisy machine:** in {len(noisy)} of {len(runs)} runs, processes other than the client and Ceph used "
               f"more than 15 % of the machine's CPU (\"other CPU s\"); the wall-clock figures are less reliable than usual.\n")

now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
md = f"""# Lean path transport: node:http vs undici (issue 21)

`bash bench/transport.sh{meta.get('args', '')}` ({now}; {meta.get('total', '?')} s in all)

- Machine: {meta.get('machine', '?')}; load average at start: {meta.get('load', '?')}
- Node {meta.get('node', '?')}; undici {meta.get('undici', '?')}; Ceph {meta.get('ceph', '?')} (single node, memstore OSD,
  radosgw with beast, on loopback on the same machine); s3s3 {meta.get('s3s3', '?')} at {meta.get('commit', '?')}
- The same s3s3bucket sweep (`concurrency = 16`, other settings default) copies the same source bucket into a fresh,
  empty destination bucket of a second RGW user (streamed: GET -> client -> PUT, no CopyObject); the transport is the
  bench-only switch `S3S3_BENCH_TRANSPORT=http|undici`; the transports take turns (http undici, undici http, ...).
  Every destination is checked to hold every object (count and bytes).
- Figures: the median of {meta.get('runs', '?')} run(s) per case and transport, each figure on its own. seconds: wall
  clock of the whole process (start-up and listing included), with the fastest and slowest run; objects/s and MiB/s
  from it. Client CPU: user+system of the s3s3bucket process (`/usr/bin/time -v`), per object and per MiB copied.
  Peak RSS: "Maximum resident set size". radosgw and other CPU s: the server's, and the rest of the machine's
  (client and server share the same CPUs).
{warning}
{chr(10).join(rows)}

{chr(10).join(verdicts)}

Every run:

{chr(10).join(detail)}
"""
with open(md_path, 'w') as f:
    f.write(md)
print(md)
