import pino from 'pino';

/**
 * One structured logger (pino: fast JSON lines, redaction built in). User ids never appear in logs:
 * the paths below are redacted wherever a caller passes them as fields.
 */
export const log = pino({
  name: 'attune',
  level: process.env.ATTUNE_LOG_LEVEL ?? 'info',
  redact: { paths: ['userId', '*.userId', 'key', '*.key'], censor: '[redacted]' },
  base: { pid: process.pid },
}, pino.destination(2));

export type Logger = typeof log;
