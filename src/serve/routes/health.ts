/**
 * Health: GET /health/live (the process is up) and /health/ready (200 once every model is loaded; 503 before, while
 * shutting down, and `{"status": "degraded", "reason"}` while a store requests need — the audit log — cannot be
 * written). No key needed (http.ts).
 */
import type { RoutePlugin } from './shared.js';

export const healthRoutes: RoutePlugin = async (app, { st }) => {
  app.get('/health/live', { schema: { summary: 'the process is up' } }, async () => ({ status: 'live' }));
  app.get(
    '/health/ready',
    { schema: { summary: 'every model is loaded and every store requests need can be written' } },
    async (_req, reply) => {
      const { http, ...health } = st.health();
      reply.status(http);
      return health;
    },
  );
};
