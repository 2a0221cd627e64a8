/**
 * Connection hygiene (the nginx / Envoy defaults, as options): a request's headers must arrive within
 * --headers-timeout-ms and all of it within --body-timeout-ms (Node answers 408 and closes; checked every second),
 * a keep-alive connection idle for --idle-timeout-ms is closed, and at most --max-connections are open (kept below
 * the process's file limit, so that files, workers and the audit log always have descriptors), at most
 * --max-connections-per-client from one address. A connection over a cap is closed at once; everyone else is served.
 */
import type { Server, Socket } from 'node:net';
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { ServerMetrics } from './metrics.js';

export interface ConnectionLimits {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  /** the cap after the file limit (options.ts connectionCap) */
  maxConnections: number;
  maxConnectionsPerClient: number;
}

/** The Node HTTP server options behind the time-outs (Fastify also sets requestTimeout and keepAliveTimeout). */
export function timeoutOptions(l: ConnectionLimits): ServerOptions {
  return {
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.bodyTimeoutMs,
    keepAliveTimeout: l.idleTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs),
  };
}

/**
 * Caps the connections of the server, in total and per client address; counts them in the metrics. Returns what
 * closes the connections without a request in progress when the server shuts down (Node leaves a connection that
 * never sent a request open until its idle time-out: it would hold the exit back).
 */
export function capConnections(server: Server, l: ConnectionLimits, metrics: ServerMetrics): () => void {
  server.maxConnections = l.maxConnections;
  const all = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    busy.add(req.socket);
    res.once('close', () => busy.delete(req.socket));
  });
  server.on('drop', () => metrics.connectionsRefused.inc({ cap: 'server' }));
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const from = socket.remoteAddress ?? '';
    const n = (open.get(from) ?? 0) + 1;
    if (n > l.maxConnectionsPerClient) {
      metrics.connectionsRefused.inc({ cap: 'client' });
      socket.destroy();
      return;
    }
    open.set(from, n);
    all.add(socket);
    metrics.connections.inc();
    socket.once('close', () => {
      all.delete(socket);
      metrics.connections.dec();
      const left = (open.get(from) ?? 1) - 1;
      if (left > 0) open.set(from, left);
      else open.delete(from);
    });
  });
  return () => {
    for (const socket of all) if (!busy.has(socket)) socket.destroy();
  };
}
