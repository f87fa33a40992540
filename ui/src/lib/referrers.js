// The objects that refer to one object (lib/refs.js), read once: every
// kind the caller may list where such objects can be (the object's
// namespace, its group, or for a cluster object everywhere a cluster-wide
// grant reaches). Used by the object page and the delete dialog ("what
// references it will wait").
import { can, clusterWide, kindsAt } from './access.js';
import { get } from './api.js';
import { collectionPath } from './kinds.js';
import { refersTo } from './refs.js';

// candidates returns [{kind, path}] to list for objects referring to obj.
export function candidates(who, kinds, kind, obj) {
  const { group: g = '', namespace: ns = '' } = obj.meta;
  const ok = (k, cg, cns) => can(who, 'list', k.plural, cg, cns);
  if (kind.scope === 'namespace') {
    return [
      ...kindsAt(who, kinds, 'namespace', g, ns).map((k) => ({ kind: k, path: collectionPath(k, g, ns) })),
      ...kindsAt(who, kinds, 'group', g).map((k) => ({ kind: k, path: collectionPath(k, g) })),
    ];
  }
  if (kind.scope === 'group') {
    return kinds.filter((k) => k.scope !== 'cluster' && ok(k, g)).map((k) => ({ kind: k, path: collectionPath(k, g) }));
  }
  if (!clusterWide(who)) return [];
  return kinds.filter((k) => ok(k) && k.plural !== 'events').map((k) => ({ kind: k, path: `/api/v0/${k.plural}` }));
}

// contentLists returns [{kind, path}] to list for what is inside a group
// or namespace (kind is group or namespace, obj the object): the kinds the
// caller may list there, at that place only.
export function contentLists(who, kinds, kind, obj) {
  const g = kind.name === 'group' ? obj.meta.id : obj.meta.group;
  const ns = kind.name === 'namespace' ? obj.meta.id : '';
  return ns
    ? kindsAt(who, kinds, 'namespace', g, ns).map((k) => ({ kind: k, path: collectionPath(k, g, ns) }))
    : kinds.filter((k) => k.scope !== 'cluster' && can(who, 'list', k.plural, g)).map((k) => ({ kind: k, path: collectionPath(k, g) }));
}

// listAll reads every list of [{kind, path}] into [{kind, obj}] kept by
// keep(kind, obj); one failure fails the whole (no partial answer passed
// off as complete).
export async function listAll(lists, keep, signal) {
  const out = [];
  await Promise.all(lists.map(async ({ kind: k, path }) => {
    const env = await get(path, { signal });
    for (const o of Object.values(env.data || {})[0] || []) if (keep(k, o)) out.push({ kind: k, obj: o });
  }));
  return out;
}

// findReferrers lists [{kind, obj}] referring to obj (of kind).
export async function findReferrers(who, kinds, kind, obj, signal) {
  const out = await listAll(candidates(who, kinds, kind, obj), (k, o) => refersTo(o, kinds, kind, obj), signal);
  return out.sort((a, b) => a.kind.rank - b.kind.rank || a.obj.meta.id.localeCompare(b.obj.meta.id));
}
