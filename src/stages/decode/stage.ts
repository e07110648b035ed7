/**
 * The decode stage: registry-framed Avro bytes → user events. A record that can never be decoded (not framed,
 * over the size cap, a schema id unknown or of another subject, an Avro bomb, bad Avro) goes to the batch's dead
 * letters; a registry that cannot answer is retriable and fails the whole micro-batch, which the task retries.
 */
import type { Config } from '../../config/config.js';
import type { Codec } from './codec.js';
import type { EventBatch, StageFactory } from '../../topology/processor.js';
import { deadLetterOrThrow } from '../dead-letter/record.js';

export interface DecodeDeps {
  cfg: Config;
  codec: Codec;
}

export const decodeStage: StageFactory<DecodeDeps, EventBatch> = {
  node: { name: 'decode', does: 'Confluent-framed Avro → events (schema registry)', stores: [], sinks: [] },
  create(d) {
    return {
      node: this.node,
      async process(b) {
        for (const r of b.records) {
          try {
            b.decoded.push({ offset: Number(r.offset), record: r, event: await d.codec.decodeEvent(r.value, d.cfg.maxMessageBytes) });
          } catch (err) {
            b.dead.push({ offset: Number(r.offset), record: deadLetterOrThrow(r, err, { topic: b.topic, partition: b.partition, groupId: d.cfg.groupId }) });
          }
        }
      },
    };
  },
};
