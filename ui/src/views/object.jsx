// The object page, generic over kinds: status (state, message), transfer
// progress, conditions, placement, events, dependencies, YAML, the kind's
// panels (src/panels.js, given the live object), edit and delete. The
// object is live: read from its collection's watch when the caller may
// list it there, else read once.
import { useEffect, useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { can, canWatch } from '../lib/access.js';
import { get } from '../lib/api.js';
import { collectionPath, kindByPlural, listRoute, objectPath } from '../lib/kinds.js';
import { useList } from '../lib/watch.js';
import { useAccessCtx } from '../lib/whoami.js';
import { panelsOf } from '../panels.js';
import { Progress, stateOf } from './cells.jsx';
import { Conditions, Dependencies, Events, Placement } from './objparts.jsx';
import { DeleteDialog } from './delete.jsx';

// useObject returns {obj, loaded, error} for kind's object id at (g, ns).
function useObject(who, kind, g, ns, id) {
  const live = kind && canWatch(who, kind.plural, g, ns);
  const list = useList(live ? collectionPath(kind, g, ns) : null, 3);
  const [once, setOnce] = useState({ obj: null, loaded: false, error: null });
  useEffect(() => {
    if (live || !kind || !can(who, 'get', kind.plural, g, ns)) return undefined;
    const ctrl = new AbortController();
    get(objectPath(kind, { group: g, namespace: ns, id }), { signal: ctrl.signal }).then(
      (env) => setOnce({ obj: env.data[kind.name], loaded: true, error: null }),
      (error) => !ctrl.signal.aborted && setOnce({ obj: null, loaded: true, error }));
    return () => ctrl.abort();
  }, [kind?.plural, g, ns, id, live]);
  if (!live) return once;
  return { obj: list.items.find((o) => o.meta.id === id) || null, loaded: list.loaded, error: list.error };
}

export function editRoute(kind, m) {
  const q = new URLSearchParams({ kind: kind.plural, id: m.id });
  if (m.group) q.set('g', m.group);
  if (m.namespace) q.set('ns', m.namespace);
  return '#/apply?' + q.toString();
}

export function ObjectPage({ plural, id, group = '', namespace = '' }) {
  const { who, kinds } = useAccessCtx();
  const kind = kindByPlural(kinds, plural);
  const { obj, loaded, error } = useObject(who, kind, group, namespace, id);
  const [del, setDel] = useState(false);
  if (!kind) return <p role="alert" class="error">No kind {plural}.</p>;
  if (!can(who, 'get', kind.plural, group, namespace)) return <p role="alert" class="error">You may not read {kind.name} {id}.</p>;
  const title = `${kind.name} ${namespace ? namespace + '/' : group ? group + '/' : ''}${id}`;
  if (error) return <section><h1>{title}</h1><p role="alert" class="error">{error.message}</p></section>;
  if (!loaded) return <section><h1>{title}</h1><p aria-live="polite">Loading…</p></section>;
  if (!obj) {
    return (
      <section><h1>{title}</h1>
        <p role="status">{kind.name} {id} does not exist (or no longer: it was deleted).</p>
        {can(who, 'list', kind.plural, group, namespace) && <p><a href={listRoute(kind, group, namespace)}>All {kind.plural}</a></p>}
      </section>
    );
  }
  const m = obj.meta;
  const deleting = m.deleteState === 'Delete' || !!m.deletionTimestamp;
  return (
    <article data-testid="object" data-kind={kind.name} data-id={m.id} aria-labelledby="h-obj">
      <header class="obj-head">
        <h1 id="h-obj">{title}</h1>
        <p class="actions">
          {can(who, 'update', kind.plural, group, namespace) && <a href={editRoute(kind, m)} data-testid="edit" class="button">Edit</a>}
          {can(who, 'delete', kind.plural, group, namespace) && (
            <button type="button" data-testid="delete" onClick={() => setDel(true)} disabled={deleting}>Delete</button>
          )}
        </p>
      </header>
      <section aria-labelledby="h-status" class="status"><h2 id="h-status">Status</h2>
        <p>State: <strong data-testid="state">{stateOf(obj)}</strong>{deleting && <span class="muted"> (being deleted: waiting for finalizers {(m.finalizers || []).join(', ')})</span>}</p>
        {obj.status?.message && <p data-testid="message">{obj.status.message}</p>}
        <Progress obj={obj} />
        <Placement who={who} kinds={kinds} obj={obj} />
        {m.name && <p>Name: {m.name}</p>}
      </section>
      {panelsOf(kind.name).map((P, i) => <P key={i} kind={kind} obj={obj} />)}
      <Conditions obj={obj} />
      <Events who={who} kind={kind} obj={obj} />
      <Dependencies who={who} kinds={kinds} kind={kind} obj={obj} />
      <section aria-labelledby="h-yaml"><h2 id="h-yaml">YAML</h2>
        <pre data-testid="yaml" class="yaml" tabIndex={0}>{stringify(obj)}</pre>
      </section>
      {del && <DeleteDialog kind={kind} obj={obj} live={obj} onClose={() => setDel(false)} />}
    </article>
  );
}
