/**
 * The topology as data: source topics, each with its chain of stages (the same declarations the runtime runs:
 * EVENT_STAGES, the catalog's upsert), the stores each stage keeps, the sinks it writes, and the time-driven
 * work. `attune topology` prints it as Mermaid; docs/ARCHITECTURE.md embeds that output, and a test fails when
 * the doc's copy is stale.
 */
import type { TopicNames } from '../config/config.js';
import { catalogUpsertNode } from '../stages/catalog/processor.js';
import { EVENT_STAGES } from './events-chain.js';
import type { NodeSpec } from './processor.js';

export interface SourceSpec {
  topic: string;
  key: string;
  /** `group`: one owner per partition (the consumer group); `global`: every worker reads every partition. */
  consumer: 'group' | 'global';
  chain: NodeSpec[];
  /** What the partition's task keeps in Redis around the chain (progress, fence, write-ahead marker). */
  taskStores: string[];
}

export interface TimerSpec {
  name: string;
  when: string;
  /** The stage the timer's work runs in. */
  stage: string;
}

/** A topic a stage writes and another reads back into memory at start-up (a changelog of worker state). */
export interface LogSpec {
  topic: string;
  writtenBy: string;
  loadedBy: string;
  when: string;
}

export interface Topology {
  sources: SourceSpec[];
  timers: TimerSpec[];
  sinks: Record<NodeSpec['sinks'][number], string>;
  logs: LogSpec[];
}

const catalogReaderNode: NodeSpec = { name: 'catalog', does: 'in-memory catalog of every worker (global table)', stores: [], sinks: [] };

export function buildTopology(topics: TopicNames): Topology {
  return {
    sources: [
      { topic: topics.events, key: 'user id', consumer: 'group', chain: EVENT_STAGES.map((s) => s.node), taskStores: ['{p}:progress', '{p}:inflight', '{p}:fence'] },
      { topic: topics.items, key: 'item id', consumer: 'group', chain: [catalogUpsertNode], taskStores: ['{p}:progress', '{p}:fence'] },
      { topic: topics.items, key: 'item id', consumer: 'global', chain: [catalogReaderNode], taskStores: [] },
    ],
    timers: [
      { name: 'punctuator', when: 'idle partition, wall clock', stage: 'segments' },
      { name: 'rules re-evaluation', when: 'assignment, rule file changed', stage: 'segments' },
      { name: 'holder correction', when: 'an item goes away', stage: 'recommend' },
    ],
    sinks: { recommendations: topics.recommendations, segmentChanges: topics.segmentChanges, dlq: topics.dlq },
    logs: [
      { topic: topics.erasures, writtenBy: 'erase', loadedBy: 'rights', when: 'start-up, assignment' },
      { topic: topics.modelChangelog, writtenBy: 'recommend', loadedBy: 'recommend', when: 'start-up, then tailed' },
    ],
  };
}

/** The topology as a Mermaid flowchart: topics as cylinders, stages as boxes, stores beside their stage. */
export function toMermaid(t: Topology): string {
  const lines = ['flowchart LR'];
  const id = (s: string) => s.replace(/[^A-Za-z0-9]+/g, '_');
  const topicIds = new Map<string, string>();
  const topic = (name: string) => {
    if (!topicIds.has(name)) {
      topicIds.set(name, `t_${id(name)}`);
      lines.push(`  t_${id(name)}[("${name}")]`);
    }
    return topicIds.get(name)!;
  };
  const stageIds = new Map<string, string>();
  t.sources.forEach((src, n) => {
    const group = `${id(src.topic)}_${src.consumer}`;
    lines.push(`  subgraph ${group}["${src.topic} · ${src.consumer === 'group' ? 'one task per partition' : 'every worker, all partitions'} · keyed by ${src.key}"]`);
    const ids = src.chain.map((node) => {
      const sid = `s${n}_${id(node.name)}`;
      stageIds.set(node.name, sid);
      lines.push(`    ${sid}["${node.name}<br/><small>${node.does}</small>"]`);
      return sid;
    });
    lines.push(`  end`);
    lines.push(`  ${topic(src.topic)} --> ${ids[0]}`);
    if (src.taskStores.length) lines.push(`  ${group} -.- task_${group}[("Redis, per partition: ${src.taskStores.join(', ')}")]`);
    for (let k = 1; k < ids.length; k++) lines.push(`  ${ids[k - 1]} --> ${ids[k]}`);
    src.chain.forEach((node, k) => {
      if (node.stores.length) lines.push(`  ${ids[k]} -.- st_${ids[k]}[("Redis: ${node.stores.join(', ')}")]`);
      for (const sink of node.sinks) lines.push(`  ${ids[k]} --> ${topic(t.sinks[sink])}`);
    });
  });
  for (const l of t.logs) {
    const tid = topic(l.topic);
    lines.push(`  ${stageIds.get(l.writtenBy)} --> ${tid}`);
    lines.push(`  ${tid} -. "loaded (${l.when})" .-> ${stageIds.get(l.loadedBy)}`);
  }
  for (const timer of t.timers) {
    const tid = `timer_${id(timer.name)}`;
    lines.push(`  ${tid}(("${timer.name}<br/><small>${timer.when}</small>")) -.-> ${stageIds.get(timer.stage)}`);
  }
  return lines.join('\n') + '\n';
}
