/**
 * The error catalogue: every error a user can hit has a stable code, an exit code for the CLI and an HTTP status
 * for the server. Messages say what was wrong and what to do; they never contain patient text (name the file,
 * row and column instead). docs/errors.md lists the codes (a test keeps it in step with this table).
 *
 * Exit codes: 2 for every user-facing error (usage, input, model folder, output path), 1 for internal bugs,
 * 130 / 143 after Ctrl-C / SIGTERM.
 */

export interface ErrorSpec {
  /** process exit code of the CLI */
  exit: 1 | 2;
  /** HTTP status the server answers with */
  http: number;
  /** one line for docs/errors.md: when it happens */
  when: string;
}

export const ERROR_CATALOGUE = {
  E_USAGE: { exit: 2, http: 400, when: 'an option or request field is missing, unknown, malformed or out of range' },
  E_ENV: { exit: 2, http: 500, when: 'an environment variable (MEDTUNE_*) has a value medtune does not understand' },
  E_INPUT_NOT_FOUND: { exit: 2, http: 400, when: 'an input file does not exist, is a folder or cannot be read' },
  E_INPUT_FORMAT: {
    exit: 2,
    http: 400,
    when: 'the format of an input file cannot be told from its name, or is not one this command reads',
  },
  E_INPUT_ENCODING: {
    exit: 2,
    http: 400,
    when: 'an input file is binary or is not valid UTF-8 (pass --encoding for other text encodings)',
  },
  E_INPUT_PARSE: { exit: 2, http: 400, when: 'a row of a CSV/TSV/JSONL/JSON/Parquet file cannot be parsed' },
  E_INPUT_COLUMN: {
    exit: 2,
    http: 400,
    when: 'a column named by an option is missing, or the text/label column cannot be detected',
  },
  E_INPUT_LABEL: {
    exit: 2,
    http: 400,
    when: 'labels are of the wrong type, unknown to the model, or too few classes to train on',
  },
  E_INPUT_DATA: {
    exit: 2,
    http: 400,
    when: 'the content of the data breaks a rule (duplicate ids, a group key that cannot be read, ...)',
  },
  E_INPUT_EMPTY: { exit: 2, http: 400, when: 'an input has no usable rows' },
  E_INPUT_TAGS: {
    exit: 2,
    http: 400,
    when:
      'token classification: a token without a tag, an I- tag that continues no entity, an unknown tag scheme, ' +
      'entity spans that overlap or fall outside the text, ' +
      'or entity types of an evaluation file the training file lacks',
  },
  E_OUTPUT_PATH: {
    exit: 2,
    http: 500,
    when:
      'an output file or folder cannot be created or written (it is a file/folder of the other kind, ' +
      'it is under a file, no permission, read-only place, or it is the input itself)',
  },
  E_MODEL_NOT_FOUND: {
    exit: 2,
    http: 404,
    when: 'a model folder or hub name cannot be found (or downloaded when offline)',
  },
  E_MODEL_UNSUPPORTED: {
    exit: 2,
    http: 400,
    when: 'the model type, activation or problem type is not one medtune supports for this command',
  },
  E_MODEL_WEIGHTS: {
    exit: 2,
    http: 500,
    when: 'a weight or config file is missing, truncated, corrupt, or was refused as unsafe',
  },
  E_MODEL_LABELS: { exit: 2, http: 400, when: 'the label map of a model and the data or options do not fit together' },
  E_MODEL_TASK: {
    exit: 2,
    http: 400,
    when:
      'a model of one task was given to a command of another (a token-classification model to diagnose / predict ' +
      'classification, a sequence classifier to entities / de-identification)',
  },
  E_MODEL_NO_MLM_HEAD: {
    exit: 2,
    http: 400,
    when:
      'a command needs the masked-LM head (cls.predictions.* / lm_head.*) and the model folder has none ' +
      '(pretrain: --init-mlm-head starts one)',
  },
  E_LEXICON: {
    exit: 2,
    http: 500,
    when: 'a lexicon or word list (spelling lexicon, WordNet, protected words) cannot be read',
  },
  E_LEAKAGE: {
    exit: 2,
    http: 400,
    when:
      'evaluation rows are rows the model was trained on (its training file, replayed rows, reviewed corrections, ' +
      "its parents'), or with --fail-on-leakage: evaluation rows have exact or near copies in the training data",
  },
  E_TOKENIZER: { exit: 2, http: 500, when: 'the tokenizer files of a model folder are missing or cannot be used' },
  E_CHECKPOINT: {
    exit: 2,
    http: 400,
    when: 'a checkpoint to resume from is missing, corrupt, or belongs to another run',
  },
  E_RESUME_MISMATCH: { exit: 2, http: 400, when: 'resuming with data or settings the checkpoint cannot continue with' },
  E_NO_EVAL_DATA: {
    exit: 2,
    http: 400,
    when: 'there is no validation or test data to evaluate on, or a retraining run has too few validation rows',
  },
  E_DIVERGED: { exit: 2, http: 500, when: 'training diverged (the loss became NaN or infinite)' },
  E_NATIVE_UNAVAILABLE: {
    exit: 2,
    http: 500,
    when: 'the native backend was required but is not built or cannot be loaded',
  },
  E_PRECISION_UNSUPPORTED: {
    exit: 2,
    http: 400,
    when: 'bf16 or int8 was asked for where it cannot run fast: the js backend, or (bf16) a CPU without AVX512-BF16',
  },
  E_INTERRUPTED: { exit: 2, http: 503, when: 'the command was interrupted (Ctrl-C: exit 130, SIGTERM: exit 143)' },
  E_SEARCH_SPACE: {
    exit: 2,
    http: 400,
    when: 'tune: the search space is empty or contradictory, or names a parameter the trainer does not know',
  },
  E_STUDY_MISMATCH: {
    exit: 2,
    http: 400,
    when: 'tune: the study file holds a study of that name with another search space or metric',
  },
  E_STUDY_STORAGE: {
    exit: 2,
    http: 500,
    when: 'tune: the study database cannot be opened or is not a medtune study file',
  },
  E_QUEUE_UNREACHABLE: {
    exit: 2,
    http: 503,
    when: '--queue: the Redis server cannot be reached (tune, predict, deid, evaluate, worker; the URL is named)',
  },
  E_INPUT_CHANGED: {
    exit: 2,
    http: 400,
    when: '--queue: the input file changed while its job ran (size or sha256); nothing is written',
  },
  E_JOB_MISMATCH: {
    exit: 2,
    http: 400,
    when: '--queue: the job folder beside the output holds a job with another input, model or options, or was altered',
  },
  E_JOB_WORKER: {
    exit: 2,
    http: 500,
    when: "worker: its model folder, list file or de-id secret differs from the job's (sha256); it refuses the chunk",
  },
  E_JOB_FAILED: {
    exit: 2,
    http: 500,
    when: '--queue: a chunk failed three times, or its workers died (the row range and the last error are named)',
  },
  E_TRIALS_FAILED: {
    exit: 2,
    http: 500,
    when: 'tune: every trial of the study failed (the first error is shown; see the trial logs)',
  },
  E_TRIAL_DATA: {
    exit: 2,
    http: 400,
    when: 'tune worker: a data or model path of a trial does not exist on this machine',
  },
  E_BAD_REQUEST: {
    exit: 2,
    http: 400,
    when:
      "HTTP: the request body is not valid JSON or does not match the route's schema, or a text has no letter or " +
      'digit (only whitespace, punctuation, zero-width or control characters)',
  },
  E_AUTH: {
    exit: 2,
    http: 401,
    when: 'HTTP: no API key, a malformed, wrong or revoked key (send Authorization: Bearer KEY)',
  },
  E_AUTH_THROTTLED: {
    exit: 2,
    http: 429,
    when:
      'HTTP: too many failed key checks from this client address or for this key id (--max-auth-failures per ' +
      'minute); nothing is checked until the retry-after header says',
  },
  E_KEYS_PERMISSIONS: {
    exit: 2,
    http: 500,
    when: 'the API keys file can be read by group or others: `chmod 600` it (or --allow-insecure-keys)',
  },
  E_FORBIDDEN: { exit: 2, http: 403, when: 'HTTP: the key is valid but the route needs an admin key' },
  E_NOT_FOUND: { exit: 2, http: 404, when: 'HTTP: no such route' },
  E_UNKNOWN_MODEL: {
    exit: 2,
    http: 404,
    when: 'HTTP: the server does not serve a model of that name (see GET /v1/models)',
  },
  E_TOO_LARGE: {
    exit: 2,
    http: 413,
    when:
      "HTTP: the body, the number of texts, a text or explanation steps are above the server's limits " +
      '(--body-limit, --max-texts, --max-chars, --explain-max-chars, --explain-max-steps)',
  },
  E_UNSUPPORTED_MEDIA: { exit: 2, http: 415, when: 'HTTP: the body is not application/json' },
  E_RATE_LIMIT: {
    exit: 2,
    http: 429,
    when: 'HTTP: the key sent more requests than --rate-limit per minute (see the retry-after header)',
  },
  E_QUEUE_FULL: {
    exit: 2,
    http: 429,
    when:
      'HTTP: more requests in flight than --max-concurrent-requests, or the queue of a route (explain, de-id, ' +
      'reviews) is full; retry later',
  },
  E_QUEUE_TIMEOUT: {
    exit: 2,
    http: 503,
    when:
      "HTTP: the request waited or ran longer than its route's deadline " +
      '(--queue-timeout-ms; explanations: --explain-timeout-ms)',
  },
  E_CANCELLED: {
    exit: 2,
    http: 499,
    when: 'HTTP: the client closed the connection before the answer; its work was cancelled (logs and audit only)',
  },
  E_AUDIT_UNAVAILABLE: {
    exit: 2,
    http: 503,
    when:
      'HTTP: the audit log cannot be written (disk full, read-only, removed): requests that need an audit entry ' +
      'are refused until writing works again (GET /health/ready says why)',
  },
  E_NOT_READY: { exit: 2, http: 503, when: 'HTTP: the models are still loading (see GET /health/ready)' },
  E_REVIEW_DB: {
    exit: 2,
    http: 503,
    when:
      'the review database cannot be opened or written ' +
      '(locked by another process, read-only, or not a medtune review database)',
  },
  E_SHUTTING_DOWN: { exit: 2, http: 503, when: 'HTTP: the server is shutting down' },
  E_REGISTRY: {
    exit: 2,
    http: 404,
    when:
      'the model registry: a name or version it does not hold, a version folder that fails its sha256 check, an ' +
      'alias with nothing to go back to, or a promotion refused (a worse challenger without --force)',
  },
  E_CAPTURE: {
    exit: 2,
    http: 503,
    when:
      'the capture store of served cases: a missing, malformed or wrong key (MEDTUNE_CAPTURE_KEY, ' +
      '--capture-key-file), or a folder that cannot be used',
  },
  E_SHAPE: {
    exit: 1,
    http: 500,
    when: 'internal: a tensor shape or dtype does not fit an op (a bug: please report it)',
  },
  E_DISPOSED: {
    exit: 1,
    http: 500,
    when: 'internal: a tensor was used after it was released (a bug: please report it)',
  },
  E_INTERNAL: { exit: 1, http: 500, when: 'internal error (a bug: please report it with the command line)' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The one error type of medtune: a message that says what to do, and a code from the catalogue. */
export class MedtuneError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode = 'E_INTERNAL',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MedtuneError';
  }

  get exitCode(): number {
    return ERROR_CATALOGUE[this.code].exit;
  }

  get httpStatus(): number {
    return ERROR_CATALOGUE[this.code].http;
  }
}

export function isMedtuneError(e: unknown): e is MedtuneError {
  return e instanceof MedtuneError;
}
