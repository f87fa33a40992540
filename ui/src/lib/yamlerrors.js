// Where in the editor's YAML a server error points: the server names each
// field at fault by its JSON path (spec.nics[0].ipv4Address,
// meta.annotations["snapshotv0/restore"]); this maps the path to the
// 1-based line of that field in its document (the key's line for a map
// entry, the item's for a list entry), falling back to the nearest parent
// present when the field itself is absent (a required field left out).
import { isMap, isSeq, isScalar } from 'yaml';

// parsePath splits a JSON path into keys and indexes.
export function parsePath(path) {
  const out = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m;
  while ((m = re.exec(path))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse('"' + m[3] + '"'));
  }
  return out;
}

// lineOf returns the 1-based line of offset in text.
export function lineOf(text, offset) {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

// nodeStart finds the start offset of the path's node in doc (a yaml
// Document parsed with keepSourceTokens or not; ranges are kept by
// default), and how many keys of the path were found.
function nodeStart(doc, keys) {
  let node = doc.contents, start = node?.range?.[0] ?? 0, found = 0;
  for (const k of keys) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === k);
      if (!pair) break;
      start = pair.key?.range?.[0] ?? start;
      node = pair.value;
    } else if (isSeq(node) && typeof k === 'number' && k < node.items.length) {
      node = node.items[k];
      start = node?.range?.[0] ?? start;
    } else break;
    found++;
  }
  return { start, found };
}

// fieldLine returns the 1-based line in the whole text of the field at
// path within doc (one of parseAllDocuments(text)'s documents), and exact:
// whether the field itself was found (not a parent).
export function fieldLine(text, doc, path) {
  const keys = parsePath(path);
  const { start, found } = nodeStart(doc, keys);
  return { line: lineOf(text, start), exact: found === keys.length };
}

// docLine returns the 1-based line a document starts on (its first content).
export function docLine(text, doc) {
  return lineOf(text, doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0);
}

// syntaxErrors returns the YAML errors of a document as
// [{line, message}] (the parser's own line numbers are 1-based).
export function syntaxErrors(text, doc) {
  return doc.errors.map((e) => ({
    line: e.linePos?.[0]?.line ?? lineOf(text, e.pos?.[0] ?? 0),
    message: e.message.split('\n')[0],
  }));
}
