// What the caller may do, from its whoami (GET /api/v0/whoami): pure
// functions over the scopes, so that every view asks only for what the
// caller may see (an operator bound to one namespace requests nothing
// else: no 403 or 404 in the network log).
//
// A scope is {group, namespace, roles, kinds: {plural: [verbs]}}; a
// cluster-wide grant has group "" and namespace "", a group grant
// namespace "". A place is (g, ns): ('', '') the cluster level, (g, '')
// a group's level, (g, ns) a namespace.

// covers says whether scope s grants at the place (g, ns).
export function covers(s, g = '', ns = '') {
  if (!s.group) return true;
  if (s.group !== g) return false;
  return !s.namespace || s.namespace === ns;
}

// can says whether who may do verb on plural at the place (g, ns).
export function can(who, verb, plural, g = '', ns = '') {
  if (!who) return false;
  return who.scopes.some((s) => covers(s, g, ns) && (s.kinds?.[plural] || []).includes(verb));
}

// canWatch says whether who may list and watch plural at (g, ns): what a
// live list (lib/watch.js) needs.
export const canWatch = (who, plural, g = '', ns = '') => can(who, 'list', plural, g, ns) && can(who, 'watch', plural, g, ns);

// canAnywhere says whether some scope grants verb on plural (the wide
// collections, e.g. /api/v0/events, are filtered per item).
export function canAnywhere(who, verb, plural) {
  return !!who && who.scopes.some((s) => (s.kinds?.[plural] || []).includes(verb));
}

// kindsAt returns the kinds of a level ('cluster', 'group', 'namespace')
// the caller may list (and watch) at the place (g, ns), in rank order.
export function kindsAt(who, kinds, level, g = '', ns = '') {
  return kinds.filter((k) => k.scope === level && canWatch(who, k.plural, g, ns))
    .sort((a, b) => a.rank - b.rank || a.plural.localeCompare(b.plural));
}

// clusterWide says whether who has a cluster-wide scope.
export const clusterWide = (who) => !!who && who.scopes.some((s) => !s.group);

// treeOf describes the groups/namespaces tree the caller may see, without
// any request: listGroups (a cluster-wide grant may list groups: the
// groups come from /api/v0/groups), and the groups it is granted in, each
// with listNamespaces (it may list the group's namespaces) or the
// namespaces it is granted.
export function treeOf(who) {
  const groups = new Map();
  for (const s of who?.scopes || []) {
    if (!s.group) continue;
    if (!groups.has(s.group)) groups.set(s.group, { name: s.group, namespaces: new Set() });
    if (s.namespace) groups.get(s.group).namespaces.add(s.namespace);
  }
  return {
    listGroups: canWatch(who, 'groups'),
    listAllNamespaces: canWatch(who, 'namespaces'),
    groups: [...groups.values()].sort((a, b) => a.name.localeCompare(b.name)).map((gr) => ({
      name: gr.name,
      listNamespaces: canWatch(who, 'namespaces', gr.name),
      namespaces: [...gr.namespaces].sort(),
    })),
  };
}
