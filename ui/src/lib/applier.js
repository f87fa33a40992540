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
import { collectionPath, kindByType, objectPath } from './kinds.js';
import { docLine, fieldLine, syntaxErrors } from './yamlerrors.js';

// prepare parses text into [{doc, prefix, obj, kind, line, syntax, fields, error}]
// (prefix: "[i]" for the items of a document that is a list, else '')
// (syntax: YAML syntax errors; fields: [{field, detail}] of a bad identity;
// error: another message), filling meta.group and meta.namespace
// from the defaults (the editor's ?g=&ns=) where the kind needs them.
export function prepare(text, kinds, defaults = {}) {
  const out = [];
  for (const doc of parseAllDocuments(text)) {
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
    if (empty && doc.errors.length === 0) continue; // only blanks and comments, as humcli skips them
    const line = docLine(text, doc);
    const base = { doc, line, prefix: '', obj: null, kind: null, syntax: [], fields: [], error: '' };
    if (doc.errors.length) { out.push({ ...base, syntax: syntaxErrors(text, doc) }); continue; }
    let v;
    try { v = doc.toJS(); } catch (e) { out.push({ ...base, error: e.message }); continue; } // e.g. too many aliases
    // A list of objects (what `humcli get -o json` prints) is its items,
    // as humcli's decoding takes it; prefix locates an item's fields.
    const objs = Array.isArray(v) ? v.map((o, i) => [o, `[${i}]`]) : [[v, '']];
    for (const [obj, prefix] of objs) {
      const item = { ...base, prefix, line: prefix ? fieldLine(text, doc, prefix).line : line };
      out.push(item);
      const where = prefix ? `item ${prefix}: ` : '';
      if (!obj || typeof obj !== 'object' || !obj.meta || typeof obj.meta !== 'object') { item.error = where + 'not an object: meta is missing'; continue; }
      // Only the apiType, as humcli's decoding (a kind's name is not one).
      const kind = kindByType(kinds, obj.meta.apiType);
      if (!kind) { item.error = `${where}meta.apiType: unknown kind ${JSON.stringify(obj.meta.apiType ?? '')}`; continue; }
      if (kind.scope !== 'cluster' && !obj.meta.group && defaults.g) obj.meta.group = defaults.g;
      if (kind.scope === 'namespace' && !obj.meta.namespace && defaults.ns) obj.meta.namespace = defaults.ns;
      item.fields = identityErrors(kind, obj.meta);
      if (item.fields.length) continue;
      item.obj = obj; item.kind = kind;
    }
  }
  return out;
}

// fieldPath is the path of an item's field within its document.
export const fieldPath = (item, field) => (item.prefix ? `${item.prefix}.${field}` : field);

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

// identityErrors checks what addresses the object, as humcli's
// checkIdentity (internal/cli/manifest.go): id, and group and namespace
// where the kind's scope needs them, each a DNS label. Without this an
// empty group or namespace would turn the object's path into a wide
// collection and the apply would touch another namespace's object.
// It returns [{field, detail}], as the server's field errors.
export function identityErrors(kind, m) {
  const errs = [];
  const check = (field, v, needed) => {
    if (!needed) return;
    if (v === undefined || v === null || v === '') errs.push({ field, detail: 'required' });
    else if (typeof v !== 'string' || !dnsLabel.test(v)) errs.push({ field, detail: `invalid id ${JSON.stringify(v)} (want a DNS label)` });
  };
  check('meta.id', m.id, true);
  check('meta.group', m.group, kind.scope !== 'cluster');
  check('meta.namespace', m.namespace, kind.scope === 'namespace');
  return errs;
}

// name is how a result names its object: kind/[group/][namespace/]id.
export const nameOf = (kind, m) => [kind.name, m.group, m.namespace, m.id].filter(Boolean).join('/');

async function current(kind, obj, viaList) {
  const m = obj.meta;
  if (viaList) {
    const env = await get(collectionPath(kind, m.group, m.namespace));
    // The collection is the object's own place (prepare refused an empty
    // scope); matching the place too keeps that true even so.
    return (Object.values(env.data || {})[0] || []).find((o) => o.meta.id === m.id &&
      (o.meta.group || '') === (m.group || '') && (o.meta.namespace || '') === (m.namespace || '')) || null;
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
    // The create's answer is the only one that carries a token's or a
    // console link's secret (status.token, status.uiURL): keep it.
    const env = await post(collectionPath(kind, obj.meta.group, obj.meta.namespace), obj);
    return { result: 'created', obj: env?.data?.[kind.name] || null };
  }
  const next = structuredClone(obj);
  next.meta.annotations = { ...(cur.meta.annotations || {}), ...(obj.meta.annotations || {}) };
  if (Object.keys(next.meta.annotations).length === 0) delete next.meta.annotations;
  next.meta.resourceVersion = cur.meta.resourceVersion;
  const out = (await put(objectPath(kind, obj.meta), next)).data[kind.name];
  return { result: out?.meta?.resourceVersion === cur.meta.resourceVersion ? 'unchanged' : 'updated', obj: out || null };
}

// applyOne applies one prepared document: {result, obj}, result being
// 'created', 'updated' or 'unchanged' and obj the server's answer, or
// throws the last ApiError. viaList: the caller may list
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
