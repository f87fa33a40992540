// The list pages: the overview, a cluster kind's list, a group's page (its
// namespaces and group kinds), a namespace's page (every namespaced kind
// the caller may list there) and one kind's list at a group or namespace.
// Each table is live (views/table.jsx). Nothing is requested that the
// caller's whoami does not allow.
import { useState } from 'preact/hooks';
import { can, canWatch, clusterWide, kindsAt, treeOf } from '../lib/access.js';
import { useAccessCtx } from '../lib/whoami.js';
import { collectionPath, kindByName, kindByPlural, objectRoute, placeRoute } from '../lib/kinds.js';
import { useList } from '../lib/watch.js';
import { KindTable } from './table.jsx';
import { DeleteDialog } from './delete.jsx';
import { stateOf } from './cells.jsx';
import { panelsOf } from '../panels.js';

// prioOf orders a namespace page's tables for the stream budget
// (lib/watch.js): what changes most, and matters most, first.
const preferred = ['virtualmachines', 'blockstorages', 'resets', 'networks', 'virtualrouters'];
const prioOf = (k) => (preferred.includes(k.plural) ? 2 + (preferred.length - preferred.indexOf(k.plural)) / 10 : 1);

const mayList = (who, k, g, ns) => canWatch(who, k.plural, g, ns);

export function Home() {
  const { who, kinds } = useAccessCtx();
  const t = treeOf(who);
  return (
    <section aria-labelledby="home-h">
      <h1 id="home-h">Overview</h1>
      <p>Signed in as <strong>{who.name}</strong>{who.groups?.length ? ` (${who.groups.join(', ')})` : ''}.</p>
      <h2>Your scopes</h2>
      <ul>
        {who.scopes.map((s, i) => (
          <li key={i}>
            {!s.group ? 'the whole cluster' : <a href={placeRoute(s.group, s.namespace)}>{s.namespace ? `${s.group}/${s.namespace}` : s.group}</a>}
            {' — '}{(s.roles || []).join(', ')}
          </li>
        ))}
      </ul>
      {t.listGroups && <KindTable kind={kindByName(kinds, 'group')} path="/api/v0/groups" />}
    </section>
  );
}

function NotAllowed({ what }) {
  return <p role="alert" class="error">You may not list {what} here.</p>;
}

// ClusterList is #/c/:plural: a cluster kind, or (cluster-wide grants) a
// group or namespace kind across the whole cluster.
export function ClusterList({ plural }) {
  const { who, kinds } = useAccessCtx();
  const k = kindByPlural(kinds, plural);
  if (!k) return <p role="alert" class="error">No kind {plural}.</p>;
  if (!mayList(who, k) || (k.scope !== 'cluster' && !clusterWide(who))) return <NotAllowed what={plural} />;
  return (
    <section><h1>{plural}</h1><KindTable kind={k} path={collectionPath(k)} wide={k.scope !== 'cluster'} heading={false} prio={3} /></section>
  );
}

// PlaceHeader shows a group's or namespace's own object: state, message
// (while it is being deleted: what it waits for), details and delete.
function PlaceHeader({ kind, g, ns = '' }) {
  const { who, kinds } = useAccessCtx();
  const [del, setDel] = useState(false);
  const id = ns || g;
  const t = treeOf(who);
  let path = null;
  if (kind.name === 'group' && t.listGroups) path = '/api/v0/groups';
  if (kind.name === 'namespace') path = t.listAllNamespaces ? '/api/v0/namespaces' : mayList(who, kind, g) ? collectionPath(kind, g) : null;
  const { items, error } = useList(path, 0);
  const obj = items.find((o) => o.meta.id === id && (kind.name === 'group' || o.meta.group === g));
  return (
    <header class="place">
      <h1>{kind.name} {ns ? `${g}/${ns}` : g}</h1>
      {error && <p role="alert" class="error">{error.message}</p>}
      {obj && <p>State: <span data-testid="place-state">{stateOf(obj)}</span>{obj.status?.message ? ` — ${obj.status.message}` : ''}</p>}
      <p class="actions">
        {obj && <a href={objectRoute(kind, obj.meta)}>Details</a>}
        {kinds.some((k) => k.scope !== 'cluster' && can(who, 'create', k.plural, g, ns)) && <a href={`#/apply?g=${encodeURIComponent(g)}${ns ? '&ns=' + encodeURIComponent(ns) : ''}`}>Apply YAML here</a>}
        {obj && can(who, 'delete', kind.plural, kind.name === 'group' ? '' : g) && (
          <button type="button" data-testid="delete" onClick={() => setDel(true)}>Delete {kind.name}</button>
        )}
      </p>
      {del && obj && <DeleteDialog kind={kind} obj={obj} live={obj} onClose={() => setDel(false)} />}
    </header>
  );
}

// GroupPage is #/g/:group: its namespaces and its group kinds.
export function GroupPage({ group }) {
  const { who, kinds } = useAccessCtx();
  const nsKind = kindByName(kinds, 'namespace');
  const gk = kindsAt(who, kinds, 'group', group);
  const fromScopes = treeOf(who).groups.find((x) => x.name === group)?.namespaces || [];
  return (
    <section>
      <PlaceHeader kind={kindByName(kinds, 'group')} g={group} />
      {!gk.some((k) => k.name === 'namespace') && fromScopes.length > 0 && (
        <section aria-labelledby="h-ns"><h2 id="h-ns">namespaces</h2>
          <ul>{fromScopes.map((ns) => <li key={ns}><a href={placeRoute(group, ns)}>{ns}</a></li>)}</ul>
        </section>
      )}
      {gk.map((k) => <KindTable key={k.plural} kind={k} path={collectionPath(k, group)} />)}
      {gk.length === 0 && fromScopes.length === 0 && nsKind && <NotAllowed what="anything" />}
    </section>
  );
}

// GroupKindList is #/g/:group/:plural: a group kind, or a namespaced kind
// across the group's namespaces.
export function GroupKindList({ group, plural }) {
  const { who, kinds } = useAccessCtx();
  const k = kindByPlural(kinds, plural);
  if (!k || k.scope === 'cluster') return <p role="alert" class="error">No group kind {plural}.</p>;
  if (!mayList(who, k, group)) return <NotAllowed what={plural} />;
  return (
    <section><h1>{plural} in {group}</h1>
      <KindTable kind={k} path={collectionPath(k, group)} wide={k.scope === 'namespace'} heading={false} prio={3} />
    </section>
  );
}

// NamespacePage is #/g/:group/ns/:namespace: every namespaced kind the
// caller may list there, each a live table.
export function NamespacePage({ group, namespace }) {
  const { who, kinds } = useAccessCtx();
  const nk = kindsAt(who, kinds, 'namespace', group, namespace);
  return (
    <section>
      <PlaceHeader kind={kindByName(kinds, 'namespace')} g={group} ns={namespace} />
      {nk.map((k) => <KindTable key={k.plural} kind={k} path={collectionPath(k, group, namespace)} prio={prioOf(k)} />)}
      {nk.length === 0 && <NotAllowed what="anything" />}
      {panelsOf('namespace').map((P, i) => <P key={i} kind={kindByName(kinds, 'namespace')} obj={{ meta: { group, id: namespace } }} />)}
    </section>
  );
}

export function NsKindList({ group, namespace, plural }) {
  const { who, kinds } = useAccessCtx();
  const k = kindByPlural(kinds, plural);
  if (!k || k.scope !== 'namespace') return <p role="alert" class="error">No namespaced kind {plural}.</p>;
  if (!mayList(who, k, group, namespace)) return <NotAllowed what={plural} />;
  return (
    <section><h1>{plural} in {group}/{namespace}</h1>
      <KindTable kind={k} path={collectionPath(k, group, namespace)} heading={false} prio={3} />
    </section>
  );
}
