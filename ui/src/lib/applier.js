// Apply, as `humcli apply` does it (internal/cli/write.go): every document
// of a multi-document YAML text, owners first (kinds by rank); for each,
// read it: absent -> POST (created); present -> PUT with the stored
// resourceVersion and the stored annotations the document does not mention
// (agents record state there), "updated" or "unchanged"; a lost race
// (409) is retried. A failure does not stop the others. It reads the
// object from its collection when the caller may list there, so that a new
// object costs no 404 (which the browser logs as a console error). Results keep the
// document's parsed form so errors can be shown at their lines.
import { isScalar, parseAllDocuments } from 'yaml';
import { ApiError, get, post, put } from './api.js';
import { collectionPath, kindByName, kindByType, objectPath } from './kinds.js';
import { docLine, syntaxErrors } from './yamlerrors.js';

// prepare parses text into [{doc, obj, kind, line, error}] (error: a YAML
// syntax error list, or a message), filling meta.group and meta.namespace
// from the defaults (the editor's ?g=&ns=) where the kind needs them.
export function prepare(text, kinds, defaults = {}) {
  const out = [];
  for (const doc of parseAllDocuments(text)) {
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    if (empty && doc.errors.length === 0) continue; // only blanks and comments, as humcli skips them
    const line = docLine(text, doc);
    const item = { doc, line, obj: null, kind: null, syntax: [], error: '' };
    out.push(item);
    if (doc.errors.length) { item.syntax = syntaxErrors(text, doc); continue; }
    const obj = doc.toJS();
    if (!obj || typeof obj !== 'object' || !obj.meta || typeof obj.meta !== 'object') { item.error = 'not an object: meta is missing'; continue; }
    const kind = kindByType(kinds, obj.meta.apiType) || kindByName(kinds, obj.meta.apiType);
    if (!kind) { item.error = `meta.apiType: unknown kind ${JSON.stringify(obj.meta.apiType ?? '')}`; continue; }
    if (!obj.meta.id) { item.error = 'meta.id: required'; continue; }
    if (kind.scope !== 'cluster' && !obj.meta.group && defaults.g) obj.meta.group = defaults.g;
    if (kind.scope === 'namespace' && !obj.meta.namespace && defaults.ns) obj.meta.namespace = defaults.ns;
    item.obj = obj; item.kind = kind;
  }
  return out;
}

// name is how a result names its object: kind/[group/][namespace/]id.
export const nameOf = (kind, m) => [kind.name, m.group, m.namespace, m.id].filter(Boolean).join('/');

async function current(kind, obj, viaList) {
  const m = obj.meta;
  if (viaList) {
    const env = await get(collectionPath(kind, m.group, m.namespace));
    return (Object.values(env.data || {})[0] || []).find((o) => o.meta.id === m.id) || null;
  }
  try {
    return (await get(objectPath(kind, m))).data[kind.name];
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

async function applyOnce(kind, obj, viaList) {
  const cur = await current(kind, obj, viaList);
  if (!cur) {
    await post(collectionPath(kind, obj.meta.group, obj.meta.namespace), obj);
    return 'created';
  }
  const next = structuredClone(obj);
  next.meta.annotations = { ...(cur.meta.annotations || {}), ...(obj.meta.annotations || {}) };
  if (Object.keys(next.meta.annotations).length === 0) delete next.meta.annotations;
  next.meta.resourceVersion = cur.meta.resourceVersion;
  const out = (await put(objectPath(kind, obj.meta), next)).data[kind.name];
  return out?.meta?.resourceVersion === cur.meta.resourceVersion ? 'unchanged' : 'updated';
}

// applyOne applies one prepared document: 'created', 'updated' or
// 'unchanged', or throws the last ApiError. viaList: the caller may list
// the object's collection.
export async function applyOne(kind, obj, viaList = false) {
  let err;
  for (let i = 0; i < 3; i++) {
    try { return await applyOnce(kind, obj, viaList); } catch (e) {
      err = e;
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  }
  throw err;
}

// order returns the prepared items that can be sent, owners first.
export const order = (items) => items.filter((it) => it.obj).sort((a, b) => a.kind.rank - b.kind.rank);
