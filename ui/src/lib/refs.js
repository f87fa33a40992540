// Dependencies between objects, found generically: a spec key naming a
// kind followed by ID, IDs or Name (networkID, blockStorageIDs,
// virtualRouterID, imageName, poolID...) refers to objects of that kind,
// in the same group/namespace as the object (or the namespace a sibling
// "namespace" key names, as in an image entity's source). A new kind's
// references are found with no code here.

// refKind maps a spec key to the kind it refers to, or null.
export function refKind(key, kinds) {
  const m = /^([a-zA-Z]+?)(ID|IDs|Name)$/.exec(key);
  if (!m) return null;
  const base = m[1].toLowerCase();
  if (m[2] === 'Name' && base !== 'image') return null; // bridgeName, username...: not objects
  const exact = kinds.find((k) => k.name === base);
  if (exact) return exact;
  const ends = kinds.filter((k) => k.name.endsWith(base)); // poolID -> externalippool
  return ends.length === 1 ? ends[0] : null;
}

// placeOf returns the (group, namespace) where a reference of kind from
// obj lies, or null when it cannot be told.
function placeOf(kind, obj, holder) {
  const m = obj.meta;
  if (kind.scope === 'cluster') return { group: '', namespace: '' };
  if (!m.group) return null;
  if (kind.scope === 'group') return { group: m.group, namespace: '' };
  const ns = typeof holder.namespace === 'string' && holder.namespace ? holder.namespace : m.namespace;
  return ns ? { group: m.group, namespace: ns } : null;
}

// refsOf lists what obj's spec refers to: [{field, kind, id, group,
// namespace}], field being the JSON path (spec.nics[0].networkID).
export function refsOf(obj, kinds) {
  const out = [];
  const walk = (v, path) => {
    if (Array.isArray(v)) { v.forEach((x, i) => walk(x, `${path}[${i}]`)); return; }
    if (!v || typeof v !== 'object') return;
    for (const [key, x] of Object.entries(v)) {
      const kind = refKind(key, kinds);
      const ids = typeof x === 'string' ? [x] : Array.isArray(x) && x.every((e) => typeof e === 'string') ? x : null;
      if (kind && ids) {
        const place = placeOf(kind, obj, v);
        ids.forEach((id, i) => {
          // ${param}: a template's parameter, not an object yet
          if (id && place && !id.includes('${')) out.push({ field: `${path}.${key}` + (typeof x === 'string' ? '' : `[${i}]`), kind, id, ...place });
        });
      } else walk(x, `${path}.${key}`);
    }
  };
  walk(obj.spec, 'spec');
  return out;
}

// refersTo says whether obj (of any kind) refers to target (of kind tkind).
export function refersTo(obj, kinds, tkind, target) {
  const t = target.meta;
  return refsOf(obj, kinds).some((r) => r.kind.name === tkind.name && r.id === t.id &&
    r.group === (t.group || '') && r.namespace === (t.namespace || ''));
}
