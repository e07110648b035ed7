import { describe, it, expect } from 'vitest';
import { WatchdogCore } from '../../src/topology/watchdog.js';

describe('watchdog core', () => {
  it('does not fire while the worker is idle (no lag), however long', () => {
    const w = new WatchdogCore(1000, 0);
    w.joined();
    w.observeLag(10, 0);
    expect(w.check(1_000_000).stalled).toBe(false);
  });

  it('fires when lag persists without progress for the timeout, counting from when the lag appeared', () => {
    const w = new WatchdogCore(1000, 0);
    w.joined();
    w.observeLag(5000, 42); // an old last progress must not make new lag fire at once
    expect(w.check(5500).stalled).toBe(false);
    const v = w.check(6000);
    expect(v.stalled).toBe(true);
    expect(v.reason).toMatch(/42 records wait/);
  });

  it('progress resets the clock; lag back to 0 disarms it', () => {
    const w = new WatchdogCore(1000, 0);
    w.joined();
    w.observeLag(0, 10);
    w.progress(900);
    expect(w.check(1800).stalled).toBe(false);
    expect(w.check(1900).stalled).toBe(true);
    w.observeLag(1950, 0);
    expect(w.check(5000).stalled).toBe(false);
  });

  it('a failed lag probe keeps the last known lag', () => {
    const w = new WatchdogCore(1000, 0);
    w.joined();
    w.observeLag(0, 7);
    w.observeLag(500, null);
    expect(w.check(1000).stalled).toBe(true);
  });

  it('fires when the consumer stays out of the group (crashed, never rejoined)', () => {
    const w = new WatchdogCore(1000, 0);
    expect(w.check(999).stalled).toBe(false);
    w.joined();
    expect(w.check(5000).stalled).toBe(false);
    w.left(6000, 'crashed (KafkaJSConnectionError)');
    w.left(6500, 'crashed again');
    expect(w.check(6900).stalled).toBe(false);
    const v = w.check(7000);
    expect(v.stalled).toBe(true);
    expect(v.reason).toMatch(/crashed again/);
    w.joined();
    expect(w.check(9000).stalled).toBe(false);
  });

  it('timeout 0 disables it', () => {
    const w = new WatchdogCore(0, 0);
    w.observeLag(0, 5);
    expect(w.check(1e9).stalled).toBe(false);
  });
});
