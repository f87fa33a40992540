// The navigation's tree of groups and namespaces: what the caller may see
// (lib/access.js treeOf), live. A cluster-wide grant lists the groups and
// all namespaces (two watches); a group grant lists that group's
// namespaces; a namespace grant shows its namespace without any request.
import { treeOf } from '../lib/access.js';
import { placeRoute } from '../lib/kinds.js';
import { useList } from '../lib/watch.js';
import { NAMESPACE, collectionPath } from '../lib/paths.js';

function NsLink({ g, ns, current }) {
  const href = placeRoute(g, ns);
  return (
    <li><a href={href} data-testid={`tree-ns-${g}-${ns}`} aria-current={current === href ? 'page' : undefined}>{ns}</a></li>
  );
}

function TreeGroup({ g, namespaces, listPath, current }) {
  const live = useList(listPath, 0);
  const names = new Set(namespaces);
  for (const o of live.items) if (o.meta.group === g) names.add(o.meta.id);
  const href = placeRoute(g);
  return (
    <li>
      <a href={href} data-testid={`tree-group-${g}`} class="tree-group" aria-current={current === href ? 'page' : undefined}>{g}</a>
      {names.size > 0 && <ul>{[...names].sort().map((ns) => <NsLink key={ns} g={g} ns={ns} current={current} />)}</ul>}
      {live.error && <p role="alert" class="error small">namespaces: {live.error.message}</p>}
    </li>
  );
}

export function Tree({ who, current }) {
  const t = treeOf(who);
  const groups = useList(t.listGroups ? '/api/v0/groups' : null, 0);
  const all = useList(t.listAllNamespaces ? '/api/v0/namespaces' : null, 0);
  const byName = new Map(t.groups.map((gr) => [gr.name, gr]));
  for (const o of groups.items) if (!byName.has(o.meta.id)) byName.set(o.meta.id, { name: o.meta.id, namespaces: [], listNamespaces: false });
  const nsOf = (g) => all.items.filter((o) => o.meta.group === g).map((o) => o.meta.id);
  const list = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return (
    <ul data-testid="tree" class="tree" aria-label="Groups and namespaces">
      {list.map((gr) => (
        <TreeGroup key={gr.name} g={gr.name} current={current}
          namespaces={t.listAllNamespaces ? [...gr.namespaces, ...nsOf(gr.name)] : gr.namespaces}
          listPath={!t.listAllNamespaces && gr.listNamespaces ? collectionPath(NAMESPACE, gr.name) : null} />
      ))}
      {groups.error && <li role="alert" class="error">groups: {groups.error.message}</li>}
      {all.error && <li role="alert" class="error">namespaces: {all.error.message}</li>}
      {list.length === 0 && !groups.error && <li class="muted">{groups.loaded || !t.listGroups ? 'no groups' : 'loading…'}</li>}
    </ul>
  );
}
