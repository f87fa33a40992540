// The YAML editor page (#/apply, ?g=&ns= the default scope; ?kind=&id=
// opens an object to edit): applies every document as `humcli apply` does
// (lib/applier.js) and shows the outcome per object (apply-result), the
// server's validation errors at their fields' lines (field-error), YAML
// syntax errors at their lines, and other errors (apply-error).
import { useEffect, useState } from 'preact/hooks';
import { stringify } from 'yaml';
import { get } from '../lib/api.js';
import { can } from '../lib/access.js';
import { kindByPlural, objectPath, objectRoute } from '../lib/kinds.js';
import { applyOne, fieldPath, nameOf, order, prepare } from '../lib/applier.js';
import { fieldLine } from '../lib/yamlerrors.js';
import { useAccessCtx } from '../lib/whoami.js';
import { secretsOf } from '../lib/secrets.js';
import { writeClipboard } from '../consoles/clipboard.js';
import { Editor } from './editor.jsx';

// Secrets shows the one-time secrets of a create's answer (a token, a
// console link): the server never shows them again.
function Secrets({ items }) {
  return (
    <div class="secrets" role="group" aria-label="Secrets, shown only now">
      <p class="warn"><strong>Shown only now:</strong> copy it before you leave this page; the server keeps no copy and will not show it again.</p>
      <dl>
        {items.map((s) => (
          <div key={s.key}>
            <dt>{s.label}</dt>
            <dd>
              <code data-testid="apply-secret" data-key={s.key}>{s.value}</code>{' '}
              <CopyButton text={s.value} label={s.label} />
              {s.href && <>{' '}<a href={s.href} target="_blank" rel="noopener noreferrer">open</a></>}
            </dd>
          </div>
        ))}
      </dl>
    </div>
  );
}

function CopyButton({ text, label }) {
  const [done, setDone] = useState('');
  const copy = async () => setDone((await writeClipboard(text)) ? 'copied' : 'copy failed: select the text and copy it');
  return (
    <>
      <button type="button" data-testid="copy-secret" onClick={copy} aria-label={`Copy ${label}`}>Copy</button>
      {done && <span class="muted" role="status"> {done}</span>}
    </>
  );
}

// editable drops what the server sets from an object read for editing.
function editable(obj) {
  const o = structuredClone(obj);
  delete o.status;
  for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'deletionTimestamp', 'generation', 'finalizers', 'deleteState']) delete o.meta[k];
  return o;
}

export function Apply({ query }) {
  const { who, kinds } = useAccessCtx();
  const [text, setText] = useState('');
  const [g, setG] = useState(query.get('g') || '');
  const [ns, setNs] = useState(query.get('ns') || '');
  const [busy, setBusy] = useState(false);
  const [out, setOut] = useState({ results: [], marks: [], errors: [] });
  const editKind = kindByPlural(kinds, query.get('kind') || '');
  const editId = query.get('id') || '';
  useEffect(() => {
    if (!editKind || !editId) return;
    get(objectPath(editKind, { group: query.get('g') || '', namespace: query.get('ns') || '', id: editId }))
      .then((env) => setText(stringify(editable(env.data[editKind.name]))),
        (e) => setOut({ results: [], marks: [], errors: [e.message] }));
  }, [editKind?.plural, editId]);

  // An edit moves lines under the marks: they would point at the wrong
  // ones, so they go (the results and other errors stay).
  const edit = (t) => {
    setText(t);
    if (out.marks.length) setOut({ ...out, marks: [] });
  };

  const run = async () => {
    setBusy(true);
    const marks = [], errors = [], results = [];
    try {
      await applyAll(text, marks, errors, results);
    } catch (e) {
      // Nothing outside applyOne should throw; if it does, say so rather
      // than leave the button busy and the page silent.
      errors.push(`apply stopped: ${e.message}`);
    } finally {
      setOut({ results, marks, errors });
      setBusy(false);
    }
  };

  const applyAll = async (text, marks, errors, results) => {
    const items = prepare(text, kinds, { g, ns });
    for (const it of items) {
      for (const s of it.syntax) marks.push({ line: s.line, text: `YAML syntax: ${s.message}` });
      for (const f of it.fields) marks.push({ line: fieldLine(text, it.doc, fieldPath(it, f.field)).line, text: `${f.field}: ${f.detail}` });
      if (it.error) errors.push(`document at line ${it.line}: ${it.error}`);
    }
    if (marks.length || errors.length) {
      errors.push('nothing was applied: fix the errors above first');
      return;
    }
    for (const it of order(items)) {
      const name = nameOf(it.kind, it.obj.meta);
      try {
        const viaList = can(who, 'list', it.kind.plural, it.obj.meta.group || '', it.obj.meta.namespace || '');
        const { result, obj } = await applyOne(it.kind, it.obj, viaList);
        const secrets = result === 'created' ? secretsOf(obj, location.origin) : [];
        results.push({ name, result, href: objectRoute(it.kind, it.obj.meta), secrets });
      } catch (e) {
        results.push({ name, result: 'error', message: e.message });
        if (e.fields?.length) {
          for (const f of e.fields) marks.push({ line: fieldLine(text, it.doc, fieldPath(it, f.field)).line, text: `${f.field}: ${f.detail}` });
        } else errors.push(`${name}: ${e.message}`);
      }
    }
    if (items.length === 0) errors.push('no objects: the text holds no YAML document');
  };

  return (
    <section aria-labelledby="h-apply" class="apply">
      <h1 id="h-apply">Apply YAML</h1>
      <p class="scope">
        <label for="apply-g">Default group</label> <input id="apply-g" value={g} onInput={(e) => setG(e.currentTarget.value)} size={12} />
        {' '}<label for="apply-ns">Default namespace</label> <input id="apply-ns" value={ns} onInput={(e) => setNs(e.currentTarget.value)} size={12} />
      </p>
      <Editor value={text} onInput={edit} marks={out.marks} label="YAML documents, separated by ---" />
      <p class="actions">
        <button type="button" data-testid="apply" onClick={run} disabled={busy || !text.trim()}>{busy ? 'Applying…' : 'Apply'}</button>
      </p>
      {out.errors.length > 0 && (
        <div role="alert" data-testid="apply-error" class="error">{out.errors.map((e, i) => <p key={i}>{e}</p>)}</div>
      )}
      {out.results.length > 0 && (
        <ol data-testid="apply-result" class="results" aria-live="polite">
          {out.results.map((r, i) => (
            <li key={i} class={r.result === 'error' ? 'error' : ''}>
              {r.result === 'error' ? <>{r.name} error: {r.message}</> : <><a href={r.href}>{r.name}</a> {r.result}</>}
              {r.secrets?.length > 0 && <Secrets items={r.secrets} />}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
