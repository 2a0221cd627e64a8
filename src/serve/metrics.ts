/**
 * Prometheus metrics (prom-client, one registry per server): the server (requests by route and status, request /
 * queue / inference durations, batch sizes, tokens per batch, in-flight requests, queue depth) and the models in use
 * (model info, predictions by label, top-class confidence, truncations, abstentions, and the drift of the served
 * label and confidence distributions against the training-time reference). Labels are route templates, model and
 * class names — never text.
 */
import client from 'prom-client';
import { DriftWindow } from '../infer/drift.js';
import type { Decision } from '../infer/decision.js';
import type { ModelInfo } from '../infer/model-info.js';
import type { Lane } from './limits.js';

export class ServerMetrics {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({
    name: 'medtune_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'method', 'status'],
    registers: [this.registry],
  });
  readonly duration = new client.Histogram({
    name: 'medtune_http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly queue = new client.Histogram({
    name: 'medtune_queue_seconds',
    help: 'time a text waited for a batch',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly inference = new client.Histogram({
    name: 'medtune_inference_seconds',
    help: 'time of one batch in a worker',
    labelNames: ['model'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'medtune_batch_size',
    help: 'texts per batch',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly batchTokens = new client.Histogram({
    name: 'medtune_batch_tokens',
    help: 'tokens per batch (unpadded)',
    buckets: [64, 256, 1024, 2048, 4096, 8192, 16384, 32768],
    registers: [this.registry],
  });
  readonly inFlight = new client.Gauge({
    name: 'medtune_requests_in_flight',
    help: 'diagnose requests being handled',
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'medtune_queue_depth',
    help: 'texts waiting for a batch',
    registers: [this.registry],
  });
  readonly modelInfo = new client.Gauge({
    name: 'medtune_model_info',
    help: 'served models (value 1)',
    labelNames: ['model', 'version', 'sha256'],
    registers: [this.registry],
  });
  readonly predictions = new client.Counter({
    name: 'medtune_predictions_total',
    help: 'predictions by model and label',
    labelNames: ['model', 'label'],
    registers: [this.registry],
  });
  readonly confidence = new client.Histogram({
    name: 'medtune_prediction_confidence',
    help: 'top-class probability of each prediction',
    labelNames: ['model'],
    buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99],
    registers: [this.registry],
  });
  readonly truncated = new client.Counter({
    name: 'medtune_truncated_texts_total',
    help: 'texts cut by truncation',
    labelNames: ['model'],
    registers: [this.registry],
  });
  readonly abstained = new client.Counter({
    name: 'medtune_abstentions_total',
    help: 'predictions the model declined (refer to a clinician)',
    labelNames: ['model'],
    registers: [this.registry],
  });
  readonly authRefusals = new client.Counter({
    name: 'medtune_auth_refusals_total',
    help: 'key checks refused: invalid (missing, wrong, unknown, revoked) or throttled (too many failures)',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly connections = new client.Gauge({
    name: 'medtune_connections_open',
    help: 'open client connections',
    registers: [this.registry],
  });
  readonly connectionsRefused = new client.Counter({
    name: 'medtune_connections_refused_total',
    help: 'connections closed at once: over --max-connections (server) or --max-connections-per-client (client)',
    labelNames: ['cap'],
    registers: [this.registry],
  });
  readonly workerCancelled = new client.Counter({
    name: 'medtune_worker_jobs_cancelled_total',
    help: 'explanations and de-identifications a worker stopped because their request was abandoned',
    registers: [this.registry],
  });
  readonly cancelled = new client.Counter({
    name: 'medtune_requests_cancelled_total',
    help: 'requests whose client went away before the answer (their work was dropped or cancelled)',
    labelNames: ['route'],
    registers: [this.registry],
  });
  readonly drift: client.Gauge<'model' | 'kind'>;
  private windows = new Map<string, DriftWindow>();

  constructor(private readonly windowSize = 1000) {
    const windows = this.windows;
    this.drift = new client.Gauge({
      name: 'medtune_drift_psi',
      help: 'population stability index of served predictions vs the training-time reference (>= 0.2: re-validate)',
      labelNames: ['model', 'kind'],
      registers: [this.registry],
      // computed when scraped, over each model's sliding window
      collect() {
        for (const [model, w] of windows) {
          const sc = w.scores();
          if (!sc) continue;
          this.set({ model, kind: 'label' }, sc.label_psi);
          this.set({ model, kind: 'confidence' }, sc.confidence_psi);
        }
      },
    });
  }

  /** Per lane (explain, deid, reviews): requests in flight and waiting, and refusals by reason. */
  watchLanes(lanes: Lane[]): void {
    new client.Gauge({
      name: 'medtune_lane_requests',
      help: 'requests of a lane (explain, deid, reviews) in flight (state="active") and waiting (state="queued")',
      labelNames: ['lane', 'state'],
      registers: [this.registry],
      collect() {
        for (const l of lanes) {
          this.set({ lane: l.name, state: 'active' }, l.inFlight);
          this.set({ lane: l.name, state: 'queued' }, l.queued);
        }
      },
    });
    new client.Gauge({
      name: 'medtune_lane_refused',
      help: 'requests a lane refused since start: queue full (429), deadline (503), client gone',
      labelNames: ['lane', 'reason'],
      registers: [this.registry],
      collect() {
        for (const l of lanes)
          for (const [reason, n] of Object.entries(l.refused)) this.set({ lane: l.name, reason }, n);
      },
    });
  }

  setModels(models: Map<string, ModelInfo>): void {
    this.modelInfo.reset();
    for (const [name, info] of models) {
      this.modelInfo.set({ model: name, version: info.identity.version, sha256: info.identity.sha256 }, 1);
      if (!this.windows.has(name) || this.windows.get(name)!.reference !== (info.metadata.reference ?? null)) {
        this.windows.set(name, new DriftWindow(info.metadata.reference ?? null, info.labels, this.windowSize));
      }
    }
  }

  /** Counts one prediction; one that is not finite (a broken model) is not observed, never a crash. */
  observePrediction(model: string, d: Decision, labels: string[], truncated: boolean): void {
    if (!d.probabilities.every(Number.isFinite)) return;
    const chosen = Array.isArray(d.predicted)
      ? labels.filter((_, c) => (d.predicted as number[])[c])
      : [labels[d.predicted]!];
    for (const l of chosen) this.predictions.inc({ model, label: l });
    this.confidence.observe({ model }, Math.max(...d.probabilities));
    if (truncated) this.truncated.inc({ model });
    if (d.abstain) this.abstained.inc({ model });
    this.windows.get(model)?.add(d);
  }

  driftOf(model: string): ReturnType<DriftWindow['scores']> {
    return this.windows.get(model)?.scores() ?? null;
  }
}
