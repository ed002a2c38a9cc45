/**
 * s3s3listen started while Redis does not answer (a blackholed port, not a refused one): the
 * operator's SIGTERM still stops it promptly, with the one stop it asked for; and left alone,
 * it starts by itself once Redis answers. A start stuck on Redis used to ignore the first
 * signal, so pm2 or supervisord had to kill it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redisUrl, testServers } from '../helpers/servers.js';
import { Daemon, setup, type Setup } from '../helpers/listen.js';
import { SwitchProxy } from '../helpers/switch-proxy.js';

const servers = testServers();
const ceph = servers.find((s) => s.name === 'ceph') ?? servers[0]!;
const swift = servers.find((s) => s.name === 'swift') ?? servers[servers.length - 1]!;

describe('s3s3listen started while redis is blackholed', () => {
  const proxy = new SwitchProxy(redisUrl());
  let s: Setup;

  before(async () => {
    await proxy.start();
    s = await setup({ source: ceph, dests: [swift], redisUrl: proxy.url(), label: 'start-blackholed' });
  });
  after(async () => {
    proxy.pass();
    await s.cleanup();
    await proxy.stop();
  });

  for (const role of ['all', 'intake', 'worker'] as const) {
    it(`--role ${role}: one SIGTERM during the start stops it within 15 s`, { timeout: 60_000 }, async () => {
      proxy.blackhole();
      const d = Daemon.start(s.file, ['--role', role]);
      try {
        await new Promise((r) => setTimeout(r, 3000));
        const t0 = Date.now();
        d.kill('SIGTERM');
        const exited = await Promise.race([d.exited, new Promise<null>((r) => setTimeout(() => r(null), 15_000))]);
        assert.ok(exited, `still running 15 s after SIGTERM:\n${d.lines.join('\n')}`);
        assert.ok(Date.now() - t0 < 15_000);
        assert.equal(d.matching(/second signal/).length, 0, d.lines.join('\n'));
      } finally {
        await d.dispose();
        proxy.pass();
      }
    });
  }

  it('--role all: starts by itself once redis answers', { timeout: 90_000 }, async () => {
    proxy.blackhole();
    const d = Daemon.start(s.file, ['--role', 'all']);
    try {
      await new Promise((r) => setTimeout(r, 3000));
      proxy.pass();
      await d.waitForLine(/ listening /, 60_000);
      d.kill('SIGTERM');
      assert.equal((await d.exited).code, 0, d.lines.join('\n'));
    } finally {
      await d.dispose();
    }
  });
});
