// What the caller may do where, from GET /api/v0/whoami (its scopes, each
// with the verbs the server's authorizer allows per kind). A stand-in for
// uicore's lib/whoami.js. Unknown rights (no answer yet, or an older
// server) are null: the panels then show their actions and the server's
// refusal.
import { useEffect, useState } from 'preact/hooks';
import { get } from '../lib/api.js';
import { session } from '../lib/session.js';

let cached = { key: null, promise: null };

function whoami() {
  const key = session.link() || session.token();
  if (cached.key !== key) cached = { key, promise: get('/api/v0/whoami').then((e) => e.data.whoami, () => null) };
  return cached.promise;
}

// verbsIn returns the verbs on plural that the scopes grant in group/namespace
// (namespace '' for a group kind). Pure (unit-tested).
export function verbsIn(who, group, namespace, plural) {
  const out = new Set();
  for (const s of who?.scopes || []) {
    const covers = s.group === '' || (s.group === group && (s.namespace === '' || s.namespace === namespace));
    if (covers) for (const v of s.kinds?.[plural] || []) out.add(v);
  }
  return [...out];
}

// useWho is the caller's whoami, or null while unknown.
export function useWho() {
  const [who, setWho] = useState(null);
  useEffect(() => { let live = true; whoami().then((w) => live && setWho(w)); return () => { live = false; }; }, []);
  return who;
}

// verbsOf is verbsIn, or null (unknown) without a whoami.
export const verbsOf = (who, group, namespace, plural) => (who ? verbsIn(who, group, namespace, plural) : null);

// allows: a verb is allowed when the rights say so, or are unknown.
export const allows = (verbs, verb) => !verbs || verbs.includes(verb);
