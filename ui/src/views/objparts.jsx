// Parts of the object page: conditions, the object's events (live, from
// /api/v0/events filtered to it), its placement and its dependencies (what
// it refers to, and what refers to it).
import { useEffect, useState } from 'preact/hooks';
import { can, canAnywhere } from '../lib/access.js';
import { kindByName, objectRoute } from '../lib/kinds.js';
import { refsOf } from '../lib/refs.js';
import { findReferrers } from '../lib/referrers.js';
import { useList } from '../lib/watch.js';
import { age, nodeOf } from './cells.jsx';

export function Conditions({ obj }) {
  const cs = obj.status?.conditions || [];
  const gen = obj.meta.generation || 0;
  return (
    <section aria-labelledby="h-cond"><h2 id="h-cond">Conditions</h2>
      <div class="table-wrap"><table data-testid="conditions" aria-labelledby="h-cond">
        <thead><tr><th scope="col">Type</th><th scope="col">Status</th><th scope="col">Reason</th>
          <th scope="col">Message</th><th scope="col">Changed</th></tr></thead>
        <tbody>
          {cs.map((c) => {
            const stale = c.observedGeneration !== undefined && c.observedGeneration < gen;
            return (
              <tr key={c.type} class={stale ? 'stale' : ''}>
                <td>{c.type}{stale && <span title="written for an older spec: not reconciled yet"> *</span>}</td>
                <td class={'cond cond-' + c.status}>{c.status}</td><td>{c.reason || ''}</td>
                <td>{c.message || ''}</td><td title={c.lastTransitionTime}>{age(c.lastTransitionTime)}</td>
              </tr>
            );
          })}
          {cs.length === 0 && <tr><td colSpan={5} class="muted">none</td></tr>}
        </tbody>
      </table></div>
    </section>
  );
}

// Events lists the events about obj, live, when the caller may read them.
export function Events({ who, kind, obj }) {
  const m = obj.meta;
  const allowed = canAnywhere(who, 'watch', 'events') && can(who, 'list', 'events', m.group || '', m.namespace || '');
  const { items, error } = useList(allowed ? '/api/v0/events' : null, 2);
  const mine = items.filter((e) => {
    const io = e.spec?.involvedObject || {};
    return io.apiType === kind.apiType && io.id === m.id && (io.group || '') === (m.group || '') &&
      (io.namespace || '') === (m.namespace || '') && (!io.uid || !m.uid || io.uid === m.uid);
  }).sort((a, b) => (b.spec.lastTimestamp || '').localeCompare(a.spec.lastTimestamp || ''));
  return (
    <section aria-labelledby="h-ev"><h2 id="h-ev">Events</h2>
      {error && <p role="alert" class="error">{error.message}</p>}
      <div class="table-wrap"><table data-testid="events" aria-labelledby="h-ev">
        <thead><tr><th scope="col">Last seen</th><th scope="col">Type</th><th scope="col">Reason</th>
          <th scope="col">Count</th><th scope="col">Message</th></tr></thead>
        <tbody>
          {mine.map((e) => (
            <tr key={e.meta.id} class={e.spec.type === 'Warning' ? 'warn' : ''}>
              <td title={e.spec.lastTimestamp}>{age(e.spec.lastTimestamp)}</td><td>{e.spec.type}</td>
              <td>{e.spec.reason}</td><td>{e.spec.count || 1}</td><td>{e.spec.message}</td>
            </tr>
          ))}
          {mine.length === 0 && <tr><td colSpan={5} class="muted">{allowed ? 'none' : 'you may not read events here'}</td></tr>}
        </tbody>
      </table></div>
    </section>
  );
}

export function Placement({ who, kinds, obj }) {
  const node = nodeOf(obj);
  const nk = kindByName(kinds, 'node');
  return (
    <p data-testid="placement">Node: {!node ? 'not placed' :
      nk && can(who, 'get', 'nodes') ? <a href={objectRoute(nk, { id: node })}>{node}</a> : node}</p>
  );
}

function RefLink({ who, kind, m }) {
  const label = `${kind.name} ${m.namespace ? m.namespace + '/' : ''}${m.id}`;
  return can(who, 'get', kind.plural, m.group || '', m.namespace || '') ? <a href={objectRoute(kind, m)}>{label}</a> : <span>{label}</span>;
}

// Dependencies: what obj refers to (from its spec), and what refers to it.
export function Dependencies({ who, kinds, kind, obj }) {
  const refs = refsOf(obj, kinds);
  const [back, setBack] = useState(null);
  const [backErr, setBackErr] = useState(null);
  const key = `${kind.plural}/${obj.meta.group}/${obj.meta.namespace}/${obj.meta.id}`;
  // A cluster object may be used from anywhere: finding out lists every
  // kind cluster-wide, so it waits for the user to ask.
  const onDemand = kind.scope === 'cluster';
  const [askedKey, setAskedKey] = useState('');
  const asked = askedKey === key;
  useEffect(() => {
    setBack(null); setBackErr(null);
    if (onDemand && !asked) return undefined;
    const ctrl = new AbortController();
    // A failed list must not read as "nothing uses it": say it failed.
    // Only the abort of leaving the page is not worth a word.
    findReferrers(who, kinds, kind, obj, ctrl.signal).then(setBack, (e) => !ctrl.signal.aborted && setBackErr(e));
    return () => ctrl.abort();
  }, [key, asked]);
  return (
    <section data-testid="dependencies" aria-labelledby="h-deps"><h2 id="h-deps">Dependencies</h2>
      <h3>Uses</h3>
      <ul>
        {refs.map((r) => <li key={r.field}><RefLink who={who} kind={r.kind} m={{ id: r.id, group: r.group, namespace: r.namespace }} /> <span class="muted">({r.field})</span></li>)}
        {refs.length === 0 && <li class="muted">nothing</li>}
      </ul>
      <h3>Used by</h3>
      <ul>
        {back?.map((b) => <li key={b.kind.plural + b.obj.meta.id}><RefLink who={who} kind={b.kind} m={b.obj.meta} /></li>)}
        {back && back.length === 0 && <li class="muted">nothing</li>}
        {!back && !backErr && onDemand && !asked && <li><button type="button" data-testid="find-referrers" onClick={() => setAskedKey(key)}>Find what uses it</button> <span class="muted">(lists every kind cluster-wide)</span></li>}
        {!back && !backErr && (!onDemand || asked) && <li class="muted">looking…</li>}
        {backErr && <li role="alert" class="error">could not find what uses it: {backErr.message}</li>}
      </ul>
    </section>
  );
}
