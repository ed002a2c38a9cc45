#!/usr/bin/env python3
"""Where a run's client CPU goes: a .cpuprofile (node --cpu-prof) as shares of the busy samples
by kind of work, adding up to 100 %, as a markdown table; then the heaviest functions.

usage: python3 bench/cpu-profile.py FILE.cpuprofile [TOP]

Self time only (a function's own samples, not its callees'). Native functions that write to a
socket (writev, writeLatin1String, writeBuffer) include the write(2) system call itself.
"""
import collections
import json
import sys

# (kind, test on (function name, url)); the first that matches wins.
KINDS = [
    ('socket writes (the syscalls included)', lambda f, u: u == '' and f in ('writev', 'writeLatin1String', 'writeBuffer', 'writeUtf8String')),
    ('garbage collection', lambda f, u: f == '(garbage collector)'),
    ('HTTP client: request, agent, response parser', lambda f, u: u.startswith('node:_http') or u in ('node:http', 'node:https', 'node:net', 'node:internal/stream_base_commons') or (u == '' and f in ('execute', 'socketOnData', 'parserOnHeadersComplete'))),
    ('streams, events, promises, timers, abort signals', lambda f, u: u.startswith('node:internal/streams') or u in ('node:events', 'node:internal/process/task_queues', 'node:internal/event_target', 'node:internal/events/abort_listener', 'node:internal/abort_controller', 'node:stream', 'node:internal/timers', 'node:timers') or (u == '' and f in ('runMicrotasks', 'asyncReset', 'emitInit', 'emitDestroy'))),
    ('hashing and signing (MD5, SHA-256, HMAC)', lambda f, u: u == 'node:internal/crypto/hash' or u.endswith('sigv4.js') or u.endswith('sigv2.js') or (u == '' and f in ('update', 'digest', 'Hash', 'Hmac'))),
    # Before s3s3's own: a dependency's files are under node_modules/*/dist/ too.
    ('dependencies (node_modules)', lambda f, u: 'node_modules' in u),
    ('s3s3: copy, sweep, store', lambda f, u: '/dist/' in u or '/src/' in u),
    ('V8 and other native', lambda f, u: True),
]

profile = json.load(open(sys.argv[1]))
top_n = int(sys.argv[2]) if len(sys.argv) > 2 else 12
nodes = {n['id']: n['callFrame'] for n in profile['nodes']}
self_us = collections.Counter()
for node_id, dt in zip(profile['samples'], profile['timeDeltas']):
    self_us[node_id] += dt
busy = {k: v for k, v in self_us.items() if nodes[k]['functionName'] not in ('(idle)',)}
total = sum(busy.values())
by_kind = collections.Counter()
by_fn = collections.Counter()
for k, v in busy.items():
    f, u = nodes[k]['functionName'], nodes[k]['url']
    by_kind[next(name for name, test in KINDS if test(f, u))] += v
    by_fn[f"`{f or '(anonymous)'}` {u.split('/')[-1]}"] += v
print(f"Busy samples: {total / 1e6:.2f} s of CPU")
print()
print('| where the CPU goes | share |')
print('| --- | ---: |')
for name, _ in KINDS:
    print(f"| {name} | {100 * by_kind[name] / total:.1f} % |")
print(f"| total | {100 * sum(by_kind.values()) / total:.1f} % |")
print()
print(f'The {top_n} heaviest functions (self time):')
print()
for f, v in by_fn.most_common(top_n):
    print(f"- {100 * v / total:.1f} % {f}")
