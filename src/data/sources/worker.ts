/** The worker thread of run.ts: one conversion, reported to the parent thread as messages. */
import { parentPort, workerData } from 'node:worker_threads';
import { MedtuneError } from '../../common/errors.js';
import { buildCtgovDataset } from './ctgov.js';
import { announceTempPaths, type DatasetResult, type ProgressFactory } from './io.js';
import { buildMimic3Dataset } from './mimic.js';
import { buildMimic4Dataset } from './mimic4.js';
import { buildPubmedDataset } from './pubmed.js';
import type { DataSourceName, WorkerMessage } from './run.js';

const post = (m: WorkerMessage) => parentPort!.postMessage(m);

const BUILDERS: Record<DataSourceName, (o: never) => Promise<DatasetResult>> = {
  mimic: buildMimic3Dataset,
  mimic4: buildMimic4Dataset,
  pubmed: buildPubmedDataset,
  ctgov: buildCtgovDataset,
};

/** Bytes read, sent in batches of 1 MB. */
const progress: ProgressFactory = (total, what) => {
  post({ kind: 'progress', total, what });
  let pending = 0;
  return {
    add: (n) => {
      pending += n;
      if (pending < 1 << 20) return;
      post({ kind: 'bytes', n: pending });
      pending = 0;
    },
    stop: () => {
      if (pending) post({ kind: 'bytes', n: pending });
      pending = 0;
      post({ kind: 'progress-stop' });
    },
  };
};

announceTempPaths((path, live) => post({ kind: 'tmp', path, live }));
const { source, options } = workerData as { source: DataSourceName; options: object };
try {
  const log = (line: string) => post({ kind: 'log', line });
  const result = await BUILDERS[source]({ ...options, log, progress } as never);
  post({ kind: 'done', result });
} catch (e) {
  if (e instanceof MedtuneError) post({ kind: 'error', message: e.message, code: e.code });
  else {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    post({ kind: 'error', message: `internal error in the conversion: ${msg}`, code: 'E_INTERNAL' });
  }
}
