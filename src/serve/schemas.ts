/** JSON schemas of the API routes: request validation (no type coercion) and the OpenAPI document at /docs. */

export const errorSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const;

export const diagnoseBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    text: { type: 'string', description: 'one note' },
    texts: { type: 'array', items: { type: 'string' }, description: 'several notes (at most --max-texts)' },
    top_k: {
      type: 'integer',
      minimum: 1,
      description: 'return the k most probable labels instead of every probability',
    },
    abstain_below: {
      anyOf: [{ type: 'number', minimum: 0, maximum: 1 }, { type: 'null' }],
      description: "override the model's abstention threshold (null: never abstain)",
    },
  },
} as const;

const scored = { type: 'object', properties: { label: { type: 'string' }, score: { type: 'number' } } } as const;

const result = {
  type: 'object',
  properties: {
    label: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    score: { type: 'number' },
    probabilities: { type: 'object', additionalProperties: { type: 'number' } },
    top_k: { type: 'array', items: scored },
    truncated_tokens: { type: 'integer', description: 'tokens cut by truncation: 0 means the whole note was read' },
    abstain: { type: 'boolean', description: 'true: the model is not sure — refer to a clinician' },
    abstain_reason: { type: 'string' },
    deid_entities: { type: 'integer', description: 'PHI entities replaced before the model saw the text (--deid)' },
  },
} as const;

export const diagnoseResponse = {
  type: 'object',
  properties: {
    request_id: { type: 'string' },
    model: {
      type: 'object',
      properties: { name: { type: 'string' }, version: { type: 'string' }, sha256: { type: 'string' } },
    },
    results: { type: 'array', items: result },
  },
} as const;

export const seedBody = {
  type: 'object',
  additionalProperties: false,
  required: ['text'],
  properties: { text: { type: 'string' }, top_k: { type: 'integer', minimum: 1 } },
} as const;

export const seedResponse = { type: 'object', properties: { diagnosis: { type: 'array', items: scored } } } as const;

const drift = {
  anyOf: [
    { type: 'null' },
    {
      type: 'object',
      properties: {
        label_psi: { type: 'number' },
        confidence_psi: { type: 'number' },
        window: { type: 'integer' },
        alert: { type: 'boolean' },
      },
    },
  ],
} as const;

export const modelsResponse = {
  type: 'object',
  properties: {
    default_model: { type: 'string' },
    ready: { type: 'boolean' },
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          version: { type: 'string' },
          sha256: { type: 'string' },
          labels: { type: 'array', items: { type: 'string' } },
          problem_type: { type: 'string' },
          max_length: { type: 'integer' },
          temperature: { type: 'number' },
          abstain_below: { anyOf: [{ type: 'number' }, { type: 'null' }] },
          monitoring: {
            type: 'object',
            properties: { reference: { type: 'boolean' }, drift, drift_alert_at: { type: 'number' } },
          },
        },
      },
    },
    limits: { type: 'object', additionalProperties: true },
  },
} as const;
