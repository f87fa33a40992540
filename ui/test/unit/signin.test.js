import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acceptSignin, newBind, loginURL, loginErrorText } from '../../src/lib/signin.js';

test('acceptSignin takes only the sign-in this tab started', () => {
  const mine = newBind();
  assert.equal(acceptSignin(mine, mine), true);
  assert.equal(acceptSignin(mine, newBind()), false, "another sign-in's value");
  assert.equal(acceptSignin('', ''), false, 'no sign-in started (a forged link)');
  assert.equal(acceptSignin(null, null), false);
  assert.equal(acceptSignin(null, mine), false);
  assert.equal(acceptSignin(mine, null), false, 'no value echoed');
  assert.equal(acceptSignin('short', 'short'), false, 'malformed');
});

test('newBind draws 32 base64url characters, fresh each time', () => {
  const a = newBind();
  assert.match(a, /^[A-Za-z0-9_-]{32}$/);
  assert.notEqual(a, newBind());
  assert.equal(newBind((n) => new Uint8Array(n).fill(0xff)), '_'.repeat(32));
});

test('loginURL passes the return path and the binding', () => {
  assert.equal(loginURL('/ui/oidc/login', '/g/a b', 'x'.repeat(16)),
    '/ui/oidc/login?return=%2Fg%2Fa%20b&bind=' + 'x'.repeat(16));
});

test('a login error from the URL is framed, one line, and short', () => {
  assert.equal(loginErrorText(''), '');
  assert.equal(loginErrorText(null), '');
  assert.equal(loginErrorText('state mismatch'), 'Sign-in failed: state mismatch');
  assert.equal(loginErrorText('a\nb\u0000c'), 'Sign-in failed: a b c');
  const long = loginErrorText('x'.repeat(500));
  assert.ok(long.length < 230 && long.endsWith('…'), long);
});
