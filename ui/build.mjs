// Builds the web console into ../internal/ui/dist, which the apiserver
// embeds (internal/ui). The output is deterministic for a given lockfile, so
// `make ui-check` can rebuild it and fail when the committed copy is stale.
//
//   node build.mjs            build
//   node build.mjs --report   build and print each file's size (raw, gzip)
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'internal', 'ui', 'dist');

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.jsx' },
  outdir: join(out, 'assets'),
  bundle: true,
  splitting: true, // consoles (noVNC, xterm.js) load on first use
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  minify: true,
  sourcemap: false,
  legalComments: 'linked', // third-party licenses go to *.LEGAL.txt beside the bundle
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: 'asset-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  loader: { '.woff2': 'file', '.svg': 'file', '.png': 'file' },
  metafile: true,
  logLevel: 'warning',
});

// index.html names the hashed entry files; every other path under /ui/ is
// the app too (the apiserver falls back to index.html).
const entry = Object.entries(result.metafile.outputs).find(([, o]) => o.entryPoint === 'src/main.jsx');
const js = '/ui/assets/' + relative(join(out, 'assets'), join(here, entry[0]));
const css = entry[1].cssBundle ? '/ui/assets/' + relative(join(out, 'assets'), join(here, entry[1].cssBundle)) : null;
const html = readFileSync(join(here, 'index.html'), 'utf8')
  .replace('%CSS%', css ? `<link rel="stylesheet" href="${css}">` : '')
  .replace('%JS%', `<script type="module" src="${js}"></script>`);
writeFileSync(join(out, 'index.html'), html);

// The build's own record: every file with its size and sha256, which the
// docs' bundle-size figures and the first-load test read.
const files = [];
const walk = (d) => {
  for (const n of readdirSync(d).sort()) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) walk(p);
    else {
      const b = readFileSync(p);
      files.push({ path: relative(out, p), bytes: b.length, gzip: gzipSync(b, { level: 9 }).length,
        sha256: createHash('sha256').update(b).digest('hex') });
    }
  }
};
walk(out);
writeFileSync(join(out, 'manifest.json'), JSON.stringify({ entry: js, css, files }, null, 1) + '\n');

if (process.argv.includes('--report')) {
  let raw = 0, gz = 0;
  for (const f of files) {
    raw += f.bytes; gz += f.gzip;
    console.log(`${f.path.padEnd(40)} ${String(f.bytes).padStart(9)} ${String(f.gzip).padStart(9)}`);
  }
  console.log(`${'total'.padEnd(40)} ${String(raw).padStart(9)} ${String(gz).padStart(9)}`);
}
