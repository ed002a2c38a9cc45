/** The `bwlimit` grammar, the timetable's clock, the token bucket, and the keys and flags that set them. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBandwidth, rateAt, type Bandwidth } from '../../src/api/config/bandwidth.js';
import { parseConfig } from '../../src/api/config/load.js';
import { ConfigError } from '../../src/api/errors.js';
import { TokenBucket } from '../../src/api/limits/token-bucket.js';

const K = 1024;
const M = 1024 * K;

function bw(text: string): Bandwidth {
  const b = parseBandwidth(text);
  assert.equal(typeof b, 'object', `${text}: ${String(b)}`);
  return b as Bandwidth;
}

/** A Date today at `hh:mm:ss` local time. */
function at(hms: string): Date {
  const [h, m, s] = hms.split(':').map(Number);
  const d = new Date();
  d.setHours(h!, m!, s ?? 0, 0);
  return d;
}

const INI =
  '[source]\naws_access_key_id = a\naws_secret_access_key = b\nbucket_name = src\nendpoint = http://127.0.0.1:1\n' +
  '[dest1]\naws_access_key_id = a\naws_secret_access_key = b\nbucket_name = dst\nendpoint = http://127.0.0.1:2\n';

function problems(text: string, overrides: Parameters<typeof parseConfig>[1]['overrides'] = []): string[] {
  try {
    parseConfig(text, { file: 't.ini', overrides });
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.message.split('\n');
    throw err;
  }
}

describe('bwlimit', () => {
  it('reads a rate (binary multiples, bare bytes) and off', () => {
    assert.deepEqual(bw('10M').periods, [{ atSecond: 0, bytesPerSecond: 10 * M }]);
    assert.deepEqual(bw('512K').periods, [{ atSecond: 0, bytesPerSecond: 512 * K }]);
    assert.deepEqual(bw('1000').periods, [{ atSecond: 0, bytesPerSecond: 1000 }]);
    assert.deepEqual(bw('off').periods, [{ atSecond: 0, bytesPerSecond: Infinity }]);
  });

  it('reads a timetable, in time order whatever the order written; HH:MM:SS too', () => {
    assert.deepEqual(bw('19:00,10M 08:00,512K 23:00,off 12:30:15,1G').periods, [
      { atSecond: 8 * 3600, bytesPerSecond: 512 * K },
      { atSecond: 12 * 3600 + 30 * 60 + 15, bytesPerSecond: 1024 * M },
      { atSecond: 19 * 3600, bytesPerSecond: 10 * M },
      { atSecond: 23 * 3600, bytesPerSecond: Infinity },
    ]);
  });

  it('says what is wrong with a bad value', () => {
    for (const [text, want] of [
      ['fast', /"fast" is not a rate/],
      ['0', /"0" is not a rate/],
      ['08:00,512K 25:00,off', /"25:00,off" .* is not a HH:MM,RATE entry/],
      ['08:00,512K 09:60,1M', /"09:60,1M"/],
      ['08:00 512K', /"08:00" .* HH:MM,RATE/],
      ['08:00,1M 08:00,2M', /names the time 08:00 twice/],
      ['08:00,0', /"08:00,0"/],
    ] as const) {
      const got = parseBandwidth(text);
      assert.equal(typeof got, 'string', text);
      assert.match(got as string, want);
    }
  });

  it("is the day's period in force at a time; before the first, yesterday's last", () => {
    const t = bw('08:00,512K 19:00,10M 23:00,off');
    assert.equal(rateAt(t, at('07:59:59')), Infinity, 'before 08:00: the 23:00 period of the day before');
    assert.equal(rateAt(t, at('08:00:00')), 512 * K);
    assert.equal(rateAt(t, at('18:59:59')), 512 * K);
    assert.equal(rateAt(t, at('19:00:00')), 10 * M);
    assert.equal(rateAt(t, at('23:30:00')), Infinity);
    assert.equal(rateAt(bw('5M'), at('03:00:00')), 5 * M);
  });
});

describe('TokenBucket', () => {
  it('spaces takes out at its rate after the burst, in turn', async () => {
    const b = new TokenBucket(
      () => 100,
      () => 2,
    );
    const started = performance.now();
    const order: number[] = [];
    await Promise.all(Array.from({ length: 12 }, (_, i) => b.take(1)!.then(() => order.push(i))));
    const ms = performance.now() - started;
    // 2 at once, then 10 more at 100/s: about 100 ms.
    assert.ok(ms >= 95 && ms < 400, `${ms} ms`);
    assert.deepEqual(
      order,
      Array.from({ length: 12 }, (_, i) => i),
      'served in the order asked',
    );
  });

  it('takes no time while unlimited, and a new rate applies within a slice (200 ms)', async () => {
    let rate = Infinity;
    const b = new TokenBucket(
      () => rate,
      (r) => Math.max(1, r / 10),
    );
    assert.equal(b.take(1_000_000), undefined, 'unlimited: nothing to wait for');
    rate = 10;
    const started = performance.now();
    setTimeout(() => (rate = Infinity), 100);
    // The first goes into debt (a take larger than the bucket); the second waits it out until the limit lifts.
    await b.take(50);
    await b.take(50);
    await b.take(1000);
    const ms = performance.now() - started;
    assert.ok(ms < 450, `the limit lifted within a slice: ${ms} ms (at 10/s it would be seconds)`);
  });
});

describe('limit keys and flags in the config', () => {
  it('bwlimit belongs in [source]; bad values and tps_burst without tps_limit are named', () => {
    const p = problems(INI.replace('endpoint = http://127.0.0.1:2\n', 'endpoint = http://127.0.0.1:2\nbwlimit = 1M\n'));
    assert.ok(
      p.some((l) => /\[dest1\] bwlimit: belongs in \[source\]/.test(l)),
      p.join('\n'),
    );
    const bad = problems(INI.replace('bucket_name = src\n', 'bucket_name = src\nbwlimit = lots\ntps_limit = -1\n'));
    assert.ok(
      bad.some((l) => /\[source\] bwlimit: "lots" is not a rate/.test(l)),
      bad.join('\n'),
    );
    assert.ok(
      bad.some((l) => /\[source\] tps_limit: "-1" is not a number of requests per second/.test(l)),
      bad.join('\n'),
    );
    const cfg = parseConfig(INI.replace('bucket_name = dst\n', 'bucket_name = dst\ntps_burst = 5\n'), {
      file: 't.ini',
    });
    assert.ok(
      cfg.warnings.some((w) => w.key === 'tps_burst' && /only with tps_limit/.test(w.message)),
      JSON.stringify(cfg.warnings),
    );
  });

  it('a flag sets bwlimit in [source] and tps_limit everywhere, over the file; its problems name the flag', () => {
    const cfg = parseConfig(INI.replace('bucket_name = dst\n', 'bucket_name = dst\ntps_limit = 5\n'), {
      file: 't.ini',
      overrides: [
        { flag: '--bwlimit', key: 'bwlimit', value: '2M', sections: 'source' },
        { flag: '--tps-limit', key: 'tps_limit', value: '0.5', sections: 'endpoints' },
      ],
    });
    assert.equal(cfg.source.bwlimit?.periods[0]?.bytesPerSecond, 2 * M);
    assert.equal(cfg.destinations[0]!.bwlimit, undefined, 'bwlimit is the source reads only');
    assert.deepEqual([cfg.source.tpsLimit, cfg.destinations[0]!.tpsLimit], [0.5, 0.5]);
    const off = parseConfig(INI, {
      file: 't.ini',
      overrides: [{ flag: '--bwlimit', key: 'bwlimit', value: 'off', sections: 'source' }],
    });
    assert.equal(off.source.bwlimit, undefined, 'off is no limit');
    const p = problems(INI, [{ flag: '--tps-limit', key: 'tps_limit', value: 'x', sections: 'endpoints' }]);
    assert.ok(
      p.some((l) => l.trim().startsWith('option --tps-limit') && /"x" is not/.test(l)),
      p.join('\n'),
    );
  });
});
