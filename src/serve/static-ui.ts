/**
 * The browser UI's files, served without a key: `/` → `/ui/`, the app from src/ui/ (native ES modules, no build
 * step: app.js, the API client api.js, components.js, markdown.js and one module per page in pages/, each served as
 * text/javascript and importing the others by relative path), and Preact + htm from the htm package's standalone
 * module (one file, so no import map is needed — an inline import map would break the strict
 * Content-Security-Policy).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** src/ui/ of the package (dist/serve/ → ../../src/ui). */
export const UI_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'ui');

export async function registerStaticUi(app: FastifyInstance): Promise<void> {
  // htm's "exports" do not list the file: find the package root from its main entry (dist/htm.js)
  const htmRoot = path.dirname(path.dirname(createRequire(import.meta.url).resolve('htm')));
  const vendor = readFileSync(path.join(htmRoot, 'preact', 'standalone.module.js'));
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    index: 'index.html',
    decorateReply: false,
    cacheControl: false,
  });
  app.get('/ui/vendor/htm-preact.js', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/javascript').send(vendor),
  );
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.status(204).send());
}
