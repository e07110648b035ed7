/**
 * avsc, the registry client's own Avro library (the one it encodes with), resolved through the client so that
 * decoding and encoding use one version and Attune does not depend on a second copy.
 */
import { createRequire } from 'node:module';

export const avro = createRequire(createRequire(import.meta.url).resolve('@kafkajs/confluent-schema-registry'))('avsc') as typeof import('avsc');
