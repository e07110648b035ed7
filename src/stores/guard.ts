/**
 * The client side of the guard every Lua command runs first (commands/includes/guard.lua): which slot guard
 * hash a command's keys share, the state epoch of a key prefix, and the fence token of the partition whose work
 * is running.
 *
 * Why one guard hash per hash slot: a Redis Cluster script may only touch keys of one slot, and state can be lost
 * per node (one master restarted empty). A marker in every slot lets each script see, in its own slot, that the
 * state it is about to change is still there — and that no newer owner of the partition has written there.
 * The 16,384 hashes are written once when a deployment bootstraps (bootstrap.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import calculateSlot from 'cluster-key-slot';
import { Keys } from './keys.js';

export const SLOTS = 16_384;

let tags: string[] | undefined;
/**
 * A hash tag for every slot: the first short strings (`g0`, `g1`, … in base 36) that hash to it. Deterministic,
 * so every worker and every tool agrees on the guard key of a slot; about 160,000 CRC16s, ~15 ms, once.
 */
export function slotTags(): string[] {
  if (tags) return tags;
  const found = new Array<string>(SLOTS);
  let left = SLOTS;
  for (let i = 0; left > 0; i++) {
    const tag = `g${i.toString(36)}`;
    const slot = calculateSlot(tag);
    if (found[slot] === undefined) {
      found[slot] = tag;
      left--;
    }
  }
  return (tags = found);
}

/** The guard hash of slot `slot` under a key prefix. */
export function guardKeyOfSlot(prefix: string, slot: number): string {
  return new Keys(prefix).slotGuard(slotTags()[slot]);
}

/** The guard hash in the same slot as `key` (a key built by Keys: `<prefix>:{tag}:...`). */
export function guardKeyFor(key: string): string {
  return guardKeyOfSlot(prefixOf(key), calculateSlot(key));
}

/** Key prefixes are `[A-Za-z0-9._-]+` (config), so the prefix is everything before the first colon. */
export function prefixOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? key : key.slice(0, i);
}

/** The fence of the partition whose work is running: the guard field and this worker's token for it. */
export interface Fence {
  field: string;
  token: number;
}

const current = new AsyncLocalStorage<Fence>();

/** Runs `fn` with every script it calls (however deep) fenced by `fence`. */
export function runFenced<T>(fence: Fence, fn: () => Promise<T>): Promise<T> {
  return current.run(fence, fn);
}

/** The fence of the running partition work, or none (start-up, tools, tests of a single script). */
export function currentFence(): Fence | undefined {
  return current.getStore();
}

export const fenceField = (topic: string, partition: number) => `f:${topic}:${partition}`;

/**
 * Keys that differ between two deployments holding the same state: the epoch (random per bootstrap), the guards
 * and the fence counters (tokens count assignments). State comparisons (cluster tests, the verifier) skip them.
 */
export function isGuardBookkeeping(key: string): boolean {
  return key.endsWith(':guard') || key.endsWith(':fence') || key.endsWith('}:bootstrap');
}
