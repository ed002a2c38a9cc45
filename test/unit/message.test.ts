/** The channel's wire format: the original plain-key protocol, JSON messages, and what is refused. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeMessage, keyProblem, parseMessage } from '../../src/api/listen/message.js';
import { KEY_SHAPES } from '../helpers/keys.js';

describe('parseMessage', () => {
  it('reads a plain message as the key, byte for byte, for every key shape', () => {
    for (const key of KEY_SHAPES) {
      assert.deepEqual(
        parseMessage(Buffer.from(key, 'utf8')),
        { ok: true, key, op: 'put', format: 'text' },
        JSON.stringify(key),
      );
    }
  });

  it('never trims or normalises: spaces, NFD and a trailing slash stay', () => {
    for (const key of [' lead', 'trail ', 'cafe\u0301', 'dir/', 'tab\there']) {
      const m = parseMessage(key);
      assert.ok(m.ok);
      assert.equal(m.key, key);
    }
  });

  it('reads a JSON object with a key, with or without op "put"', () => {
    assert.deepEqual(parseMessage('{"key": "a/b \u00e9", "op": "put"}'), {
      ok: true,
      key: 'a/b \u00e9',
      op: 'put',
      format: 'json',
    });
    assert.deepEqual(parseMessage('{"key":"x"}'), { ok: true, key: 'x', op: 'put', format: 'json' });
    assert.deepEqual(parseMessage(JSON.stringify({ key: 'x \u0001', op: 'delete' })), {
      ok: true,
      key: 'x \u0001',
      op: 'delete',
      format: 'json',
    });
    assert.deepEqual(
      parseMessage(encodeMessage('plain', 'text', 'delete')),
      { ok: true, key: 'plain', op: 'delete', format: 'json' },
      'a delete always travels as JSON',
    );
    assert.deepEqual(parseMessage(JSON.stringify({ key: '{"key":"nested"}' })), {
      ok: true,
      key: '{"key":"nested"}',
      op: 'put',
      format: 'json',
    });
  });

  it('takes text that only looks like JSON as a key', () => {
    for (const key of ['{not json', '{}x', '[1,2]', '"quoted"', '{', 'null']) {
      const m = parseMessage(key);
      assert.ok(m.ok, key);
      assert.equal(m.key, key);
    }
  });

  it('rejects, with a reason, what cannot be a key', () => {
    const cases: [Buffer | string, RegExp][] = [
      ['', /empty message/],
      [Buffer.from([0x61, 0xff, 0xfe]), /not valid UTF-8/],
      [Buffer.from([0xed, 0xa0, 0x80]), /not valid UTF-8/], // an encoded surrogate
      ['k'.repeat(1025), /1025 bytes is over the 1024-byte limit/],
      ['\u00e9'.repeat(513), /1026 bytes/],
      ['{"op":"put"}', /has no "key"/],
      ['{}', /has no "key"/],
      ['{"key": 5}', /"key" is not a string/],
      ['{"key": null}', /"key" is not a string/],
      ['{"key": ""}', /empty key/],
      ['{"key": "a", "op": "move"}', /op "move" is not supported/],
      ['{"key": "\\ud800"}', /lone surrogate/],
      [JSON.stringify({ key: 'k'.repeat(1025) }), /over the 1024-byte limit/],
      ['x'.repeat(9000), /over the 1024-byte key limit/],
    ];
    for (const [payload, reason] of cases) {
      const m = parseMessage(payload);
      assert.equal(m.ok, false, String(payload).slice(0, 40));
      if (!m.ok) assert.match(m.reason, reason);
    }
  });

  it('accepts a key of exactly 1024 bytes, plain and as JSON', () => {
    const key = KEY_SHAPES.find((k) => k.startsWith('exact1024/'))!;
    assert.equal(Buffer.byteLength(key), 1024);
    assert.ok(parseMessage(key).ok);
    assert.ok(parseMessage(JSON.stringify({ key })).ok);
  });
});

describe('encodeMessage', () => {
  it('sends the plain key (the original protocol) and round-trips every shape', () => {
    for (const key of KEY_SHAPES) {
      assert.equal(encodeMessage(key), key);
      const back = parseMessage(encodeMessage(key, 'json'));
      assert.ok(back.ok && back.key === key);
    }
  });

  it('wraps a key that would parse as a JSON message, so it arrives intact', () => {
    const key = '{"key":"other"}';
    const m = parseMessage(encodeMessage(key));
    assert.ok(m.ok);
    assert.equal(m.key, key);
  });

  it('keyProblem names what is wrong with a key', () => {
    assert.equal(keyProblem('fine'), undefined);
    assert.match(keyProblem('')!, /empty/);
    assert.match(keyProblem('k'.repeat(1025))!, /1024/);
  });
});
