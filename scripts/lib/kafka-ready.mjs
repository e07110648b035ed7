#!/usr/bin/env node
// Kafka readiness probe for scripts/services.sh: a real protocol check, not a port check.
// Connects a kafkajs admin client and calls describeCluster() in a retry loop until it
// answers with at least one broker, or until the deadline passes.
//
//   node scripts/lib/kafka-ready.mjs [--brokers 127.0.0.1:19092] [--timeout 120] [--pid <broker pid>]
//
// --pid: give up at once when that process has died (the broker crashed during start-up).
// Exit 0 when ready (prints one JSON line), 1 on timeout or a dead broker process.
import { Kafka, logLevel } from 'kafkajs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const brokers = arg('brokers', process.env.ATTUNE_KAFKA_BROKERS ?? '127.0.0.1:19092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const timeoutMs = Number(arg('timeout', '120')) * 1000;
const pid = arg('pid', undefined) ? Number(arg('pid')) : undefined;
const pollMs = 250;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (p) => {
  try {
    process.kill(p, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

const started = Date.now();
const deadline = started + timeoutMs;
let lastError = 'no attempt made';
let attempts = 0;

while (Date.now() < deadline) {
  if (pid !== undefined && !alive(pid)) {
    console.error(`kafka-ready: broker process ${pid} exited (last error: ${lastError})`);
    process.exit(1);
  }
  attempts += 1;
  const kafka = new Kafka({
    clientId: 'attune-kafka-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length > 0) {
      await admin.disconnect().catch(() => {});
      console.log(
        JSON.stringify({
          ready: true,
          clusterId: cluster.clusterId,
          brokers: cluster.brokers.map((b) => `${b.host}:${b.port}`),
          controller: cluster.controller,
          attempts,
          ms: Date.now() - started,
        }),
      );
      process.exit(0);
    }
    lastError = 'describeCluster returned no brokers';
  } catch (e) {
    lastError = e instanceof Error ? e.message : String(e);
  }
  await admin.disconnect().catch(() => {});
  await sleep(pollMs);
}

console.error(
  `kafka-ready: ${brokers.join(',')} not ready after ${timeoutMs / 1000}s (${attempts} attempts, last error: ${lastError})`,
);
process.exit(1);
