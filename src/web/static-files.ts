/**
 * The page and the libraries it runs, read once at start: the page from
 * src/web/static, the libraries straight from node_modules (README "Web
 * monitor": no build step beyond npm install). Only names in these tables
 * are served, so no URL reaches another file.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  type: string;
  body: Buffer;
}

const page = ['index.html', 'login.html', 'monitor.js', 'monitor.css', 'charts.js', 'views.js'];

/** URL name under /vendor/ → module specifier resolved from here. */
const vendor: Record<string, string> = {
  'preact.mjs': 'preact',
  'preact-hooks.mjs': 'preact/hooks',
  'htm.mjs': 'htm',
  'uplot.mjs': 'uplot/dist/uPlot.esm.js',
  'uplot.css': 'uplot/dist/uPlot.min.css',
};

const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/** Every file by URL path (`/static/monitor.js`, `/vendor/preact.mjs`); fails naming what is missing. */
export async function loadStaticFiles(): Promise<Map<string, StaticFile>> {
  // dist/web/ and src/web/ sit at the same depth: the page is not compiled, so it is read from src.
  const pageDir = new URL('../../src/web/static/', import.meta.url);
  const entries = [
    ...page.map((name) => [`/static/${name}`, new URL(name, pageDir)] as const),
    ...Object.entries(vendor).map(([name, spec]) => [`/vendor/${name}`, resolveModule(spec)] as const),
  ];
  const files = new Map<string, StaticFile>();
  for (const [path, url] of entries) {
    const body = await readFile(url).catch((err: Error) => {
      throw new Error(`web monitor: cannot read ${fileURLToPath(url)} (${err.message}); run npm install`);
    });
    files.set(path, { type: types[path.slice(path.lastIndexOf('.') + 1)]!, body });
  }
  return files;
}

function resolveModule(spec: string): URL {
  try {
    return new URL(import.meta.resolve(spec));
  } catch {
    throw new Error(`web monitor: the page needs ${spec.split('/')[0]}, which is not installed; run npm install`);
  }
}
