// A light YAML text editor: a <textarea> (no wrapping) with line numbers
// and messages pinned beside the lines they are about (field-error, with
// data-line). The gutter and the messages follow the textarea's scroll.
import { useRef, useState } from 'preact/hooks';

const LINE = 20, PAD = 8; // px; style.css .editor has the same figures

export function Editor({ value, onInput, marks, label }) {
  const ta = useRef(null);
  const [top, setTop] = useState(0);
  const n = Math.max(1, value.split('\n').length);
  const byLine = new Map();
  for (const m of marks) {
    if (!byLine.has(m.line)) byLine.set(m.line, []);
    byLine.get(m.line).push(m);
  }
  const goto = (line) => {
    const t = ta.current;
    if (!t) return;
    const lines = t.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((a, l) => a + l.length + 1, 0);
    t.focus();
    t.setSelectionRange(start, start + (lines[line - 1] || '').length);
    t.scrollTop = Math.max(0, (line - 3) * LINE);
  };
  return (
    <div class="editor">
      <pre class="gutter" aria-hidden="true" style={{ transform: `translateY(${-top}px)` }}>
        {Array.from({ length: n }, (_, i) => <span key={i} class={byLine.has(i + 1) ? 'err' : ''}>{i + 1}{'\n'}</span>)}
      </pre>
      <textarea ref={ta} id="yaml-editor" data-testid="yaml-editor" aria-label={label} wrap="off" spellcheck={false}
        autocapitalize="off" autocomplete="off" value={value}
        onInput={(e) => onInput(e.currentTarget.value)} onScroll={(e) => setTop(e.currentTarget.scrollTop)} />
      <div class="marks" style={{ transform: `translateY(${-top}px)` }}>
        {[...byLine.entries()].map(([line, ms]) => (
          <div key={line} class="mark-row" style={{ top: `${PAD + (line - 1) * LINE}px` }}>
            {ms.map((m, i) => (
              <button type="button" key={i} class="field-error" data-testid="field-error" data-line={line}
                title={`line ${line}: ${m.text}`} onClick={() => goto(line)}>
                <span class="sr-only">line {line}: </span>{m.text}
              </button>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}
