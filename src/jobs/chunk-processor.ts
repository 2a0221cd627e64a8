/**
 * BullMQ's sandboxed processor for a chunk of a batch job (a child process of `medtune worker`, kept for the next
 * chunk, so its Predictor stays loaded): runs the chunk (chunk.ts); errors reach BullMQ as one line with their code.
 */
import type { SandboxedJob } from 'bullmq';
import { runChunk, type ChunkJobData, type ChunkOutcome } from './chunk.js';

const worker = process.env.MEDTUNE_WORKER_ID ?? `${process.pid}`;

export default async function processChunk(job: SandboxedJob<ChunkJobData>): Promise<ChunkOutcome> {
  try {
    return await runChunk(job.data, worker);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new Error(`${message}${typeof code === 'string' && code.startsWith('E_') ? ` (${code})` : ''}`);
  }
}
