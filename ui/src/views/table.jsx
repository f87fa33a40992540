// A live table of one kind's objects (the watch keeps it current): ID,
// name, state, Ready, node, age, and the transfer progress when an object
// has one. Generic over kinds; rows link to the object page (a group's or
// namespace's row to its page). data-testid: list-<plural>, rows (see
// rowTestId), state.
import { objectRoute, placeRoute } from '../lib/kinds.js';
import { useList } from '../lib/watch.js';
import { Progress, ReadyCell, age, nodeOf, stateOf, transferOf } from './cells.jsx';

export function rowLink(kind, o) {
  if (kind.name === 'group') return placeRoute(o.meta.id);
  if (kind.name === 'namespace') return placeRoute(o.meta.group, o.meta.id);
  return objectRoute(kind, o.meta);
}

// rowTestId names a row uniquely within its list: row-<id>; when the list
// spans namespaces row-<ns>-<id>; when it spans groups (a cluster-wide
// list of a group or namespaced kind) row-<g>-<id> or row-<g>-<ns>-<id>.
export function rowTestId(m, spansGroups, spansNs) {
  return 'row-' + [spansGroups && m.group, spansNs && m.namespace, m.id].filter(Boolean).join('-');
}

// KindTable lists kind at path; wide: the path spans namespaces (or groups).
export function KindTable({ kind, path, wide = false, heading = true, prio = 1 }) {
  const { items, loaded, error, live, reconnecting } = useList(path, prio);
  const spansNs = wide && kind.scope === 'namespace';
  const spansGroups = wide && kind.scope !== 'cluster' && /^\/api\/v0\/[^/]+$/.test(path);
  const hasProgress = items.some((o) => transferOf(o.status));
  const id = `h-list-${kind.plural}`;
  return (
    <section class="kind-list" aria-labelledby={id}>
      {heading && <h2 id={id}>{kind.plural} <span class="count">{loaded ? items.length : ''}</span></h2>}
      {reconnecting && <p role="status" class="warn" data-testid="list-reconnecting">Reconnecting: live updates stopped; resuming from the last change seen…</p>}
      {loaded && !live && !reconnecting && !error && <p class="muted">Not live: too many watches for an HTTP/1.1 connection (the rest are live); it resumes when you leave another list.</p>}
      {error && <p role="alert" class="error">{error.message}</p>}
      <div class="table-wrap">
        <table data-testid={`list-${kind.plural}`} aria-labelledby={heading ? id : undefined} aria-label={heading ? undefined : kind.plural}>
          <thead><tr>
            {spansGroups && <th scope="col">Group</th>}
            {spansNs && <th scope="col">Namespace</th>}
            <th scope="col">ID</th><th scope="col">Name</th><th scope="col">State</th>
            <th scope="col">Ready</th><th scope="col">Node</th><th scope="col">Age</th>
            {hasProgress && <th scope="col">Progress</th>}
          </tr></thead>
          <tbody>
            {items.map((o) => (
              <tr key={`${o.meta.group}/${o.meta.namespace}/${o.meta.id}`}
                data-testid={rowTestId(o.meta, spansGroups, spansNs)}>
                {spansGroups && <td>{o.meta.group}</td>}
                {spansNs && <td>{o.meta.namespace}</td>}
                <td><a href={rowLink(kind, o)}>{o.meta.id}</a></td>
                <td>{o.meta.name || ''}</td>
                <td data-testid="state" title={o.status?.message || ''}>{stateOf(o)}</td>
                <td><ReadyCell obj={o} /></td>
                <td>{nodeOf(o) || '-'}</td>
                <td title={o.meta.creationTimestamp}>{age(o.meta.creationTimestamp)}</td>
                {hasProgress && <td><Progress obj={o} /></td>}
              </tr>
            ))}
            {loaded && items.length === 0 && <tr><td colSpan={9} class="muted">none</td></tr>}
            {!loaded && !error && <tr><td colSpan={9} class="muted">loading…</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}
