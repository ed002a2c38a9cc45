#!/usr/bin/env python3
"""Turns bench/duplicate.sh's raw.tsv into the markdown report (printed and written to a file).

usage: report.py RAW_TSV OUT_MD key=value...   (keys: machine node ceph rclone s3s3 commit path runs total load)
raw.tsv columns: case tool run objects bytes wall_s maxrss_kib client_cpu_s radosgw_cpu_s osd_cpu_s path machine_busy_s
"""
import datetime
import sys

raw_path, md_path = sys.argv[1:3]
meta = dict(a.split('=', 1) for a in sys.argv[3:])
MiB = 1048576
LABELS = {'a': '(a) 2000 x 4 KiB', 'b': '(b) 8 x 64 MiB', 'c': '(c) 1 x 1 GiB'}

runs = []
for line in open(raw_path):
    if not line.strip():
        continue
    c, tool, n, count, nbytes, wall, rss, cpu, rgw, osd, path, busy = line.rstrip('\n').split('\t')
    r = dict(case=c, tool=tool, run=int(n), count=int(count), bytes=int(nbytes), wall=float(wall), rss=int(rss) / 1024,
             cpu=float(cpu), rgw=float(rgw), osd=float(osd), busy=float(busy))
    # CPU the machine spent on processes other than the client and the two Ceph daemons (mon, the
    # bench's own helpers, and whatever else runs on the box): high values mean a noisy measurement.
    r['other'] = max(0.0, r['busy'] - r['cpu'] - r['rgw'] - r['osd'])
    runs.append(r)

# Per case and tool: the fastest run; peak RSS is the highest over all runs (the conservative figure).
best = {}
for r in runs:
    k = (r['case'], r['tool'])
    peak = max(r['rss'], best[k]['rss']) if k in best else r['rss']
    if k not in best or r['wall'] < best[k]['wall']:
        best[k] = dict(r)
    best[k]['rss'] = peak
cases = [c for c in 'abc' if any(k[0] == c for k in best)]


def rate(r):
    return r['count'] / r['wall'], r['bytes'] / MiB / r['wall']


rows = ['| case | tool | seconds | objects/s | MiB/s | peak RSS (MiB) | CPU s: client / radosgw / ceph-osd / other |',
        '| --- | --- | ---: | ---: | ---: | ---: | --- |']
for c in cases:
    for tool in ('s3s3', 'rclone'):
        r = best.get((c, tool))
        if r:
            o, m = rate(r)
            rows.append(f"| {LABELS[c]} | {tool} | {r['wall']:.2f} | {o:.1f} | {m:.1f} | {r['rss']:.1f} | "
                        f"{r['cpu']:.1f} / {r['rgw']:.1f} / {r['osd']:.1f} / {r['other']:.1f} |")
    s, rc = best.get((c, 's3s3')), best.get((c, 'rclone'))
    if s and rc:
        (so, sm), (ro, rm) = rate(s), rate(rc)
        rows.append(f"| {LABELS[c]} | **s3s3 / rclone** | {s['wall'] / rc['wall']:.2f} | **{so / ro:.2f}x** | **{sm / rm:.2f}x** | "
                    f"{s['rss'] / rc['rss']:.2f}x | client CPU {s['cpu'] / rc['cpu']:.1f}x |")

targets = ['| target | measured | result |', '| --- | --- | --- |']


def target(name, ok, detail):
    targets.append(f"| {name} | {detail} | {'PASS' if ok else '**MISS**'} |")


if ('a', 's3s3') in best and ('a', 'rclone') in best:
    x = rate(best[('a', 's3s3')])[0] / rate(best[('a', 'rclone')])[0]
    target('(a) s3s3 objects/s >= 1.5x rclone', x >= 1.5, f'{x:.2f}x')
for c in ('b', 'c'):
    if (c, 's3s3') in best and (c, 'rclone') in best:
        x = rate(best[(c, 's3s3')])[1] / rate(best[(c, 'rclone')])[1]
        target(f'({c}) s3s3 MiB/s >= rclone', x >= 1.0, f'{x:.2f}x')
for c in cases:
    if (c, 's3s3') in best:
        v = best[(c, 's3s3')]['rss']
        target(f'({c}) s3s3 peak RSS < 150 MiB', v < 150, f'{v:.1f} MiB')
if ('b', 's3s3') in best and ('c', 's3s3') in best:
    rb, rcc = best[('b', 's3s3')]['rss'], best[('c', 's3s3')]['rss']
    # "Close": within 20 % of (b)'s, i.e. memory does not grow with the object size.
    target("(c) s3s3 peak RSS close to (b)'s (within 20 %)", abs(rcc - rb) <= 0.2 * rb, f'{rcc:.1f} vs {rb:.1f} MiB')

def cpu_cost(r):
    """Client CPU per object for small objects, per MiB for large ones."""
    if r['bytes'] / r['count'] < MiB:
        return f"{r['cpu'] * 1000 / r['count']:.2f} ms/object"
    return f"{r['cpu'] * 1000 / (r['bytes'] / MiB):.2f} ms/MiB"


# Every run, so the spread is visible (the machine may be shared).
detail = ['| case | tool | run | seconds | objects/s | MiB/s | peak RSS (MiB) | client CPU | other CPU s |',
          '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
for r in sorted(runs, key=lambda r: (r['case'], r['tool'] != 's3s3', r['run'])):
    o, m = rate(r)
    detail.append(f"| {LABELS[r['case']]} | {r['tool']} | {r['run']} | {r['wall']:.2f} | {o:.1f} | {m:.1f} | {r['rss']:.1f} | "
                  f"{cpu_cost(r)} | {r['other']:.1f} |")

nproc = int(meta.get('nproc', '1'))
noisy = [r for r in runs if r['other'] > 0.15 * nproc * r['wall']]
warning = ''
if noisy:
    warning = (f"\n> **Noisy machine:** in {len(noisy)} of {len(runs)} runs, processes other than the client and Ceph used more than "
               f"15 % of the machine's CPU (\"other\" column); wall-clock figures are less reliable than usual.\n")

path = meta.get('path', 'stream')
how = ('streamed: the destination buckets belong to a second RGW user, so both tools GET from the source '
       'and PUT to the destination (no CopyObject)') if path == 'stream' else \
      'server-side: the same RGW user on both sides; s3s3 uses CopyObject, and so does rclone (one remote)'
now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
md = f"""# s3s3bucket vs rclone: duplicating a bucket on Ceph RGW

`bash bench/duplicate.sh{meta.get('args', '')}` ({now}; {meta.get('total', '?')} s in all)

- Machine: {meta.get('machine', '?')}; load average at start: {meta.get('load', '?')}
- Node {meta.get('node', '?')}; Ceph {meta.get('ceph', '?')} (single node, memstore OSD, radosgw with beast, on loopback on the same machine); rclone {meta.get('rclone', '?')}; s3s3 {meta.get('s3s3', '?')} at {meta.get('commit', '?')}
- Path: {how}
- s3s3bucket with `concurrency = 16`, other settings default; `rclone copy --transfers 16`, other flags default
- Every run writes to a fresh, empty destination bucket whose object count and bytes are checked afterwards; best of {meta.get('runs', '?')} run(s) per tool
- seconds: wall clock of the whole process (start-up and listing included); objects/s and MiB/s are computed from it.
  Peak RSS is "Maximum resident set size" from `/usr/bin/time -v` (the highest of the runs). CPU s: user+system seconds of the
  client, of radosgw and ceph-osd, and of everything else on the machine during the run; client and server share the same CPUs.
{warning}
{chr(10).join(rows)}

{chr(10).join(targets)}

<details><summary>Every run</summary>

{chr(10).join(detail)}

</details>
"""
open(md_path, 'w').write(md)
print(md)
