/**
 * Every error class Attune throws, in one module (as kafkajs does). `retriable` tells the runner what to do:
 * a retriable error pauses the partition and retries with backoff; a non-retriable one on a record sends the
 * record to the dead-letter topic; a non-retriable one elsewhere stops the worker with a clear message.
 */
export class AttuneError extends Error {
  readonly retriable: boolean;
  readonly code: string;
  constructor(message: string, opts: { code: string; retriable?: boolean; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.retriable = opts.retriable ?? false;
  }
}

/** A configuration value is missing or wrong; the message names the variable and how to fix it. */
export class ConfigError extends AttuneError {
  /** `code` narrows the kind (e.g. REDIS_EVICTION_POLICY for a Redis that may evict keys); default CONFIG. */
  constructor(message: string, code = 'CONFIG') {
    super(message, { code });
  }
}

/** Stages a record can fail in; carried to the DLQ as a header. */
export type RecordStage = 'decode' | 'validate' | 'process' | 'produce';

/**
 * The DLQ contract: every code `attune.error.code` can hold (docs/ARCHITECTURE.md, Dead letters). A RecordError
 * takes only these, so a new code is added here or does not compile; the fuzz run checks the DLQ against this list.
 */
export const DLQ_CODES = [
  // decode
  'EMPTY_VALUE', 'TOO_LARGE', 'BAD_FRAME', 'BAD_MAGIC', 'UNKNOWN_SCHEMA', 'FOREIGN_SCHEMA', 'BAD_AVRO', 'AVRO_LIMIT',
  // validate, events and items
  'MISSING_ID', 'BAD_ID', 'ID_TOO_LONG', 'UNKNOWN_TYPE', 'BAD_TIME', 'TIME_TOO_OLD', 'TIME_IN_FUTURE', 'BAD_QUANTITY',
  'BAD_PRICE', 'BAD_RATING', 'MISSING_RATING', 'TOO_MANY_PROPERTIES', 'PROPERTY_TOO_LONG', 'KEY_MISMATCH', 'BAD_COUNTRY',
  'BAD_CONSENT', 'BAD_CONTEXT', 'BAD_IDENTIFY', 'BAD_PROFILE', 'DUPLICATE_EVENT', 'TITLE_TOO_LONG',
  'TOO_MANY_CATEGORIES', 'BAD_CATEGORY', 'TOO_MANY_TAGS', 'BAD_TAG',
  // process
  'TOO_LATE', 'PROCESS_FAILED',
] as const;
export type DlqCode = (typeof DLQ_CODES)[number];

/** A record that can never be processed (poison pill). It goes to the DLQ; the partition keeps flowing. */
export class RecordError extends AttuneError {
  readonly stage: RecordStage;
  declare readonly code: DlqCode;
  constructor(code: DlqCode, stage: RecordStage, message: string, cause?: unknown) {
    super(message, { code, retriable: false, cause });
    this.stage = stage;
  }
}

/** The bytes are not a registry-framed Avro record, or the schema id is unknown. */
export class DecodeError extends RecordError {
  constructor(code: DlqCode, message: string, cause?: unknown) {
    super(code, 'decode', message, cause);
  }
}

/** The record decoded but breaks a rule (missing id, unknown type, implausible time, too large...). */
export class ValidationError extends RecordError {
  constructor(code: DlqCode, message: string) {
    super(code, 'validate', message);
  }
}

/** Redis could not be reached or refused a write for a reason that may pass (loading, OOM, connection). */
export class StateStoreUnavailableError extends AttuneError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'STATE_UNAVAILABLE', retriable: true, cause });
  }
}

/**
 * A Lua script returned a negative code. Mapped in one place (stores/script-errors.ts) to a typed error.
 */
export class ScriptRejectedError extends AttuneError {
  constructor(code: string, message: string, retriable: boolean) {
    super(message, { code, retriable });
  }
}

/** Redis state this worker relied on is gone (restart without persistence); never continue silently. */
export class StateLostError extends AttuneError {
  constructor(message: string) {
    super(message, { code: 'STATE_LOST', retriable: false });
  }
}

/**
 * The state was rebuilt (by this or another worker) under a new epoch since this worker started: what it holds
 * in memory and its positions belong to the old state. Not an error of the data: the worker restarts on the new
 * state (the runner does it in-process).
 */
export class StateRebuiltError extends AttuneError {
  constructor(message: string) {
    super(message, { code: 'STATE_REBUILT', retriable: false });
  }
}

/**
 * A newer owner of the partition has written: this worker was revoked and is finishing stale work (a zombie).
 * Its write was refused; the runner drops the rest of the batch without resolving or committing it.
 */
export class FencedError extends AttuneError {
  constructor(message: string) {
    super(message, { code: 'FENCED', retriable: false });
  }
}

/**
 * Producing to Kafka (or connecting the producer) failed after the client's own retries. `retriable` is what the
 * Kafka client says of the failure (a broker away, a leader moving: yes; a message too large, no authorization:
 * no); the Kafka adapter (kafka/kafkajs-client.ts) decides it and keeps the client's error as the cause.
 */
export class ProduceError extends AttuneError {
  constructor(message: string, opts: { retriable: boolean; cause?: unknown }) {
    super(message, { code: 'PRODUCE', retriable: opts.retriable, cause: opts.cause });
  }
}

/** One mistake in a segment rule file, at its line:col (stages/segments/core/rules.ts collects them). */
export interface SegmentRuleProblem {
  line: number;
  col: number;
  segmentId: string | null;
  message: string;
}

/** One line per mistake of a YAML file: `file:line:col: <subject> "id": why` (the id when the mistake is inside one). */
function problemLines(file: string, errors: SegmentRuleProblem[], subject: string): string {
  return errors.map((e) => `  ${file}:${e.line}:${e.col}: ${e.segmentId ? `${subject} "${e.segmentId}": ` : ''}${e.message}`).join('\n');
}

/** A segment rule file is invalid; the message lists every mistake as `file:line:col: segment "id": why`. */
export class SegmentRulesError extends AttuneError {
  constructor(
    readonly file: string,
    readonly errors: SegmentRuleProblem[],
  ) {
    super(`invalid segment rules in ${file}:\n${problemLines(file, errors, 'segment')}`, { code: 'SEGMENT_RULES' });
  }
}

/**
 * An experiments file is invalid (src/experiments/file.ts reads it with the segment rules' reader); the message
 * lists every mistake as `file:line:col: experiment "id": why`. `segmentId` of a problem holds the experiment id.
 */
export class ExperimentsFileError extends AttuneError {
  constructor(
    readonly file: string,
    readonly errors: SegmentRuleProblem[],
  ) {
    super(`invalid experiments file ${file}:\n${problemLines(file, errors, 'experiment')}`, { code: 'EXPERIMENTS_FILE' });
  }
}

/** A feature query named a window the feature configuration does not have (rule validation prevents it). */
export class UnknownWindowError extends AttuneError {
  constructor(message: string) {
    super(message, { code: 'UNKNOWN_WINDOW' });
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof AttuneError ? err.retriable : false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The schema registry could not be reached; records wait (they are not dead-lettered for it). */
export class RegistryUnavailableError extends AttuneError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'REGISTRY_UNAVAILABLE', retriable: true, cause });
  }
}

/**
 * Reading a topic back (the dead letters after a crash, `attune show`) did not reach the topic's end in time: the
 * broker is slow or away. Retriable: the micro-batch that needed it is retried with backoff.
 */
export class TopicReadTimeoutError extends AttuneError {
  constructor(message: string) {
    super(message, { code: 'READ_TIMEOUT', retriable: true });
  }
}
