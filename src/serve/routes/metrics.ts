/** Metrics: GET /metrics in the Prometheus text format (metrics.ts; labels never hold text). */
import type { RoutePlugin } from './shared.js';

export const metricsRoutes: RoutePlugin = async (app, { st }) => {
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    reply.type(st.metrics.registry.contentType);
    return st.metrics.registry.metrics();
  });
};
