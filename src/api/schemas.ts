/**
 * JSON schemas of the API: fastify validates the inputs against them (ajv), serializes the answers with them and
 * @fastify/swagger builds the OpenAPI document from them, so the document is the code. Inputs are bounded by the
 * rules the validate stage applies to events (id length ATTUNE_MAX_ID_LENGTH, no control characters).
 */

/** An id as the validate stage accepts it: 1..max characters, none of them a control character. */
export function idSchema(maxIdLength: number, what: string) {
  return { type: 'string', minLength: 1, maxLength: maxIdLength, pattern: '^[^\\u0000-\\u001f\\u007f]+$', description: `the ${what} id, as in the events (URL-encoded)` } as const;
}

export const MAX_LIMIT = 100;

export function limitQuery(def: number) {
  return {
    type: 'object',
    additionalProperties: false,
    properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: def, description: `how many to return (1 to ${MAX_LIMIT})` } },
  } as const;
}

const nullableNumber = { type: ['number', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

const reason = {
  type: 'object',
  properties: { kind: { type: 'string' }, text: { type: 'string' }, relatedItemId: nullableString },
} as const;

export const recommendationsSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    strategy: { type: 'string' },
    sourceEventId: nullableString,
    sourceEventTime: nullableNumber,
    generatedAt: { type: 'number' },
    recommendationId: nullableString,
    assignments: { type: 'array', items: { type: 'object', properties: { experiment: { type: 'string' }, variant: { type: 'string' } } } },
    items: {
      type: 'array',
      items: { type: 'object', properties: { itemId: { type: 'string' }, score: { type: 'number' }, reasons: { type: 'array', items: reason } } },
    },
  },
} as const;

export const segmentsSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    evaluatedAt: nullableNumber,
    segments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          segmentId: { type: 'string' }, description: nullableString, since: nullableNumber, cause: nullableString, changesAt: nullableNumber,
        },
      },
    },
  },
} as const;

const counts = { type: 'object', additionalProperties: { type: 'number' } } as const;

export const featuresSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    firstSeen: nullableNumber,
    lastSeen: nullableNumber,
    totalEvents: { type: 'number' },
    country: nullableString,
    device: nullableString,
    evaluatedAt: nullableNumber,
    windows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          window: { type: 'string' }, views: { type: 'number' }, clicks: { type: 'number' }, addToCarts: { type: 'number' },
          purchases: { type: 'number' }, monetary: { type: 'number' },
        },
      },
    },
    recencyMs: { type: 'object', properties: { any: nullableNumber, purchase: nullableNumber, view: nullableNumber } },
    session: {
      type: 'object',
      properties: { count: { type: 'number' }, active: { type: 'boolean' }, currentLengthMs: { type: 'number' }, currentEvents: { type: 'number' } },
    },
    topCategories: { type: 'array', items: { type: 'object', properties: { category: { type: 'string' }, score: { type: 'number' } } } },
    counts,
  },
} as const;

export const eventsSchema = {
  type: 'object',
  properties: {
    userId: { type: 'string' },
    counts,
    firstSeen: nullableNumber,
    lastSeen: nullableNumber,
    recentItems: { type: 'array', items: { type: 'string' } },
    purchases: { type: 'array', items: { type: 'object', properties: { itemId: { type: 'string' }, at: { type: 'number' } } } },
  },
} as const;

export const similarSchema = {
  type: 'object',
  properties: {
    itemId: { type: 'string' },
    title: nullableString,
    similarity: { type: 'string' },
    modelLoadedAt: { type: 'number' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        properties: { itemId: { type: 'string' }, title: nullableString, score: { type: 'number' }, available: { type: ['boolean', 'null'] } },
      },
    },
  },
} as const;

export const segmentSizesSchema = {
  type: 'object',
  properties: {
    segments: {
      type: 'array',
      items: { type: 'object', properties: { segmentId: { type: 'string' }, description: nullableString, members: { type: 'number' } } },
    },
  },
} as const;

export const deadLettersSchema = {
  type: 'object',
  properties: {
    deadLetters: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          topic: { type: 'string' }, partition: { type: 'number' }, offset: { type: 'string' }, time: { type: 'number' },
          stage: nullableString, code: nullableString, reason: nullableString,
          source: { type: 'object', properties: { topic: nullableString, partition: nullableNumber, offset: nullableString } },
        },
      },
    },
  },
} as const;

const quantiles = { type: 'object', properties: { p50: nullableNumber, p99: nullableNumber } } as const;
const series = { type: 'array', items: { type: 'object', properties: { t: { type: 'number' }, v: nullableNumber } } } as const;

export const liveSchema = {
  type: 'object',
  properties: {
    eventsPerSecond: nullableNumber,
    lag: { type: 'object', properties: { records: nullableNumber, seconds: nullableNumber } },
    freshness: { type: 'object', properties: { appendTime: quantiles, eventTime: quantiles } },
    series: { type: 'object', properties: { eventsPerSecond: series, lagRecords: series, freshnessP99: series } },
    at: { type: 'number' },
  },
} as const;

// /v1/experiments: the JSON of `attune experiments report --json` (src/experiments/report-format.ts). Every field
// is listed: the serializer drops what the schema does not name.
const test = { type: ['object', 'null'], properties: { statistic: { type: 'number' }, df: { type: 'number' }, p: { type: 'number' } } } as const;
const rate = {
  type: 'object',
  properties: {
    rate: { type: 'number' }, lo: { type: 'number' }, hi: { type: 'number' },
    vsControl: { type: ['object', 'null'], description: 'two-sided z-test against the control (null for the control)', properties: { z: { type: 'number' }, p: { type: 'number' } } },
  },
} as const;
const shares = { type: 'object', description: 'variant id -> share of decisions now (they sum to 1)', additionalProperties: { type: 'number' } } as const;

export const experimentsSchema = {
  type: 'object',
  properties: {
    confidence: { type: 'number', description: 'the confidence of the Wilson intervals' },
    experiments: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          layer: { type: 'string' },
          traffic: { type: 'number' },
          allocation: { type: 'string', enum: ['fixed', 'thompson'] },
          control: { type: 'string' },
          impressions: { type: 'number' },
          variants: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                id: { type: 'string' }, strategy: { type: 'string' },
                impressions: { type: 'number' }, clicks: { type: 'number' }, conversions: { type: 'number' },
                ctr: rate, conversion: rate,
              },
            },
          },
          ctrChiSquare: test,
          conversionChiSquare: test,
          best: {
            type: ['object', 'null'],
            description: 'the variant with the highest CTR (null before any impression)',
            properties: { variant: { type: 'string' }, isControl: { type: 'boolean' }, p: nullableNumber, significantAt: { type: ['number', 'null'], enum: [0.01, 0.05, null] } },
          },
          bandit: {
            type: ['object', 'null'],
            description: 'Thompson experiments only',
            properties: {
              minExploration: { type: 'number' },
              perSegment: { type: 'boolean' },
              shares,
              segments: {
                type: 'array',
                items: { type: 'object', properties: { segment: { type: 'string' }, impressions: { type: 'number' }, clicks: { type: 'number' }, shares } },
              },
            },
          },
          unknownVariants: { type: 'array', items: { type: 'string' } },
          verdict: { type: 'string', description: 'the leader and whether its lead over the control is significant, in one sentence' },
        },
      },
    },
    unknownExperiments: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** /v1/experiments.svg: the report's chart (reportSvg), sent as it is. */
export const experimentsSvgResponse = {
  description: 'the chart of `attune experiments report --svg`',
  content: { 'image/svg+xml': { schema: { type: 'string' } } },
} as const;
