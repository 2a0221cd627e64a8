/** Health: GET /health/live (the process is up) and /health/ready (200 once every model is loaded; 503 before, and
 * while shutting down). No key needed (http.ts). */
import type { RoutePlugin } from './shared.js';

export const healthRoutes: RoutePlugin = async (app, { st }) => {
  app.get('/health/live', { schema: { summary: 'the process is up' } }, async () => ({ status: 'live' }));
  app.get('/health/ready', { schema: { summary: 'every model is loaded' } }, async (_req, reply) => {
    if (!st.ready || st.closing) reply.status(503);
    return { status: st.closing ? 'shutting_down' : st.ready ? 'ready' : 'loading' };
  });
};
