/**
 * The browser UI's files, served without a key: `/` → `/ui/`, the app from src/ui/ (native ES modules, no build
 * step: app.js, the API client api.js, components.js, markdown.js and one module per page in pages/, each served as
 * text/javascript and importing the others by relative path), and, under /ui/vendor/, three packages' standalone
 * ES modules read from node_modules: Preact + htm (htm's preact/standalone.module.js), marked (the model card's
 * Markdown) and DOMPurify (which sanitises marked's HTML). Each is one file without imports, so no import map is
 * needed (an inline import map would break the strict Content-Security-Policy).
 *
 * A browser that opens /docs without a key gets a page that says how to pass one, not a raw JSON 401.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { MedtuneError } from '../common/errors.js';

/** src/ui/ of the package (dist/serve/ → ../../src/ui). */
export const UI_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'ui');

const require = createRequire(import.meta.url);

/** A package's root folder: up from its main entry to its package.json ("exports" may hide both the file and it). */
function packageRoot(name: string): string {
  let dir = path.dirname(require.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) || path.basename(dir) !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new MedtuneError(`the package ${name} has no root folder`, 'E_INTERNAL');
    dir = up;
  }
  return dir;
}

/** The vendored modules: URL name → file in its package (source-map comments dropped: the maps are not served). */
const VENDOR: Record<string, [pkg: string, file: string]> = {
  'htm-preact.js': ['htm', 'preact/standalone.module.js'],
  'marked.js': ['marked', 'lib/marked.esm.js'],
  'purify.js': ['dompurify', 'dist/purify.es.mjs'],
};

/** The page a browser gets for /docs without a key (no script, nothing fetched). */
const DOCS_HELP = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>medtune API reference — an API key is needed</title><link rel="stylesheet" href="/ui/style.css"></head>
<body><main id="main"><h1>The API reference needs an API key</h1>
<p>Every route of this server but the health checks needs an API key, sent as a header:
<code>Authorization: Bearer KEY</code>. A browser cannot add that header to a link, so this page cannot open the
reference by itself.</p>
<ul>
<li>To diagnose, explain, review and read the model cards: <a href="/ui/">open the app</a> and sign in with
your key.</li>
<li>To read the OpenAPI document: <code>curl -H "Authorization: Bearer $KEY" http://HOST:PORT/docs/json</code>.</li>
<li>A key comes from the administrator: <code>medtune serve keys add NAME --keys keys.json</code>.</li>
</ul></main></body></html>
`;

/** True for a browser's page request (it asks for HTML first). */
const wantsHtml = (req: FastifyRequest) => /^text\/html/.test(String(req.headers.accept ?? ''));

export async function registerStaticUi(app: FastifyInstance): Promise<void> {
  const vendor = Object.fromEntries(
    Object.entries(VENDOR).map(([name, [pkg, file]]) => [
      name,
      readFileSync(path.join(packageRoot(pkg), file), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'),
    ]),
  );
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    index: 'index.html',
    decorateReply: false,
    cacheControl: false,
  });
  for (const [name, source] of Object.entries(vendor)) {
    app.get(`/ui/vendor/${name}`, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/javascript').send(source),
    );
  }
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.status(204).send());
  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload) => {
    const docs = req.url === '/docs' || req.url.startsWith('/docs/static/index.html');
    if (reply.statusCode !== 401 || !docs || req.method !== 'GET' || !wantsHtml(req)) return payload;
    reply.type('text/html; charset=utf-8');
    return DOCS_HELP;
  });
}
