// The API client's credentials: the websocket subprotocol carries the
// token as base64url without padding (non-ASCII included); a console link
// rides as ?link= and never sends the signed-in token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeBrowser, fakeFetch, envelope } from './fakes.js';
import { get, wsAuth } from '../../src/lib/api.js';

const b64url = (s) => Buffer.from(s, 'utf8').toString('base64url');

test('wsAuth offers the token as humstack.bearer.<base64url> beside binary', () => {
  for (const tok of ['hs_abc', 'ünïcødé-tøken', 'a', 'ab', 'abc?/+']) {
    fakeBrowser({ token: tok, protocol: 'https:', host: 'h:8080', hash: '#/' });
    const { url, protocols } = wsAuth('/api/v0/groups/g/namespaces/n/virtualmachines/v/ws');
    assert.equal(url, 'wss://h:8080/api/v0/groups/g/namespaces/n/virtualmachines/v/ws');
    assert.equal(protocols[0], 'binary');
    const enc = protocols[1].slice('humstack.bearer.'.length);
    assert.equal(enc, b64url(tok));
    assert.doesNotMatch(enc, /[=+/]/);
  }
});

test('a console link uses ?link= over ws:// and http, never the token', async () => {
  fakeBrowser({ token: 'secret', protocol: 'http:', host: 'h', hash: '#/link/L%201/vm1/vnc' });
  const { url, protocols } = wsAuth('/api/v0/x/ws');
  assert.equal(url, 'ws://h/api/v0/x/ws?link=L%201');
  assert.deepEqual(protocols, ['binary']);
  const calls = fakeFetch(() => envelope(200, { whoami: {} }));
  await get('/api/v0/whoami');
  assert.equal(calls[0].url, '/api/v0/whoami?link=L%201');
  assert.equal(calls[0].headers.Authorization, undefined);
});

test('no token: only binary', () => {
  fakeBrowser({});
  assert.deepEqual(wsAuth('/p').protocols, ['binary']);
});
