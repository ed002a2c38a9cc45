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

# Per case and tool: the median of the runs (the figures quoted), the best run beside it; peak
# RSS is the highest over all runs (the conservative figure).
def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


groups = {}
for r in runs:
    groups.setdefault((r['case'], r['tool']), []).append(r)
med, best = {}, {}
for k, rs in groups.items():
    first = rs[0]
    med[k] = dict(case=first['case'], tool=first['tool'], count=first['count'], bytes=first['bytes'],
                  wall=median([r['wall'] for r in rs]), cpu=median([r['cpu'] for r in rs]),
                  rgw=median([r['rgw'] for r in rs]), osd=median([r['osd'] for r in rs]),
                  other=median([r['other'] for r in rs]), rss=max(r['rss'] for r in rs), n=len(rs))
    best[k] = min(rs, key=lambda r: r['wall'])
cases = [c for c in 'abc' if any(k[0] == c for k in med)]


def rate(r):
    return r['count'] / r['wall'], r['bytes'] / MiB / r['wall']


def cpu_per_object(r):
    return r['cpu'] * 1000 / r['count']


def cpu_per_mib(r):
    return r['cpu'] * 1000 / (r['bytes'] / MiB)


rows = ['| case | tool | seconds (median) | objects/s | MiB/s | client CPU ms/object | client CPU ms/MiB | peak RSS (MiB) | '
        'CPU s: client / radosgw / ceph-osd / other | best run s |',
        '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |']
for c in cases:
    for tool in ('s3s3', 'rclone'):
        r = med.get((c, tool))
        if r:
            o, m = rate(r)
            rows.append(f"| {LABELS[c]} | {tool} | {r['wall']:.2f} | {o:.1f} | {m:.1f} | {cpu_per_object(r):.2f} | "
                        f"{cpu_per_mib(r):.2f} | {r['rss']:.1f} | "
                        f"{r['cpu']:.2f} / {r['rgw']:.1f} / {r['osd']:.1f} / {r['other']:.1f} | {best[(c, tool)]['wall']:.2f} |")
    s, rc = med.get((c, 's3s3')), med.get((c, 'rclone'))
    if s and rc:
        (so, sm), (ro, rm) = rate(s), rate(rc)
        rows.append(f"| {LABELS[c]} | **s3s3 / rclone** | {s['wall'] / rc['wall']:.2f} | **{so / ro:.2f}x** | **{sm / rm:.2f}x** | "
                    f"**{s['cpu'] / rc['cpu']:.2f}x** | **{s['cpu'] / rc['cpu']:.2f}x** | {s['rss'] / rc['rss']:.2f}x | | "
                    f"{best[(c, 's3s3')]['wall'] / best[(c, 'rclone')]['wall']:.2f} |")

targets = ['| target (issue 21, medians) | measured | result |', '| --- | --- | --- |']


def target(name, ok, detail):
    targets.append(f"| {name} | {detail} | {'PASS' if ok else '**MISS**'} |")


def both(c):
    return (c, 's3s3') in med and (c, 'rclone') in med


if both('a'):
    s, rc = med[('a', 's3s3')], med[('a', 'rclone')]
    x = cpu_per_object(s) / cpu_per_object(rc)
    target('(a) client CPU per object <= 0.7x rclone (stretch 0.5x)', x <= 0.7,
           f'{x:.2f}x ({cpu_per_object(s):.2f} vs {cpu_per_object(rc):.2f} ms)')
    x = rate(s)[0] / rate(rc)[0]
    target('(a) objects/s >= 1.15x rclone', x >= 1.15, f'{x:.2f}x')
if both('b'):
    s, rc = med[('b', 's3s3')], med[('b', 'rclone')]
    x = cpu_per_mib(s) / cpu_per_mib(rc)
    target('(b) client CPU per MiB <= 1.0x rclone', x <= 1.0, f'{x:.2f}x ({cpu_per_mib(s):.2f} vs {cpu_per_mib(rc):.2f} ms)')
    x = rate(s)[1] / rate(rc)[1]
    target('(b) MiB/s >= 1.1x rclone', x >= 1.1, f'{x:.2f}x')
if both('c'):
    x = rate(med[('c', 's3s3')])[1] / rate(med[('c', 'rclone')])[1]
    target('(c) MiB/s >= 1.3x rclone', x >= 1.3, f'{x:.2f}x')
for c in cases:
    if (c, 's3s3') in med:
        v = med[(c, 's3s3')]['rss']
        target(f'({c}) s3s3 peak RSS <= 100 MiB', v <= 100, f'{v:.1f} MiB')
if ('b', 's3s3') in med and ('c', 's3s3') in med:
    rb, rcc = med[('b', 's3s3')]['rss'], med[('c', 's3s3')]['rss']
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
- Every run writes to a fresh, empty destination bucket whose object count and bytes are checked afterwards; {meta.get('runs', '?')} run(s) per tool, taken in turns (s3s3, rclone, rclone, s3s3, ...); the figures are medians, the best run beside them
- seconds: wall clock of the whole process (start-up and listing included); objects/s and MiB/s are computed from it.
  Client CPU per object / per MiB: the client's user+system seconds over the objects or MiB copied.
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
