/**
 * Headless Chromium for browser tests, driven by playwright-core (which never downloads a browser): Debian's
 * chromium, installed by scripts/browser.sh (scripts/test.sh runs it). The flags keep Chromium off the network
 * beyond loopback: without them it tries Google's hosts at every start and the closed network refuses them.
 * Screenshots go to test-artifacts/ (ATTUNE_TEST_ARTIFACTS), which CI keeps.
 */
import { chromium, type Browser } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export const CHROMIUM = process.env.ATTUNE_CHROMIUM || '/usr/bin/chromium';

export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    // playwright-core gives every launch a new empty profile of its own (and refuses --user-data-dir).
  }).catch((err: unknown) => {
    throw new Error(`cannot start Chromium at ${CHROMIUM} (run: bash scripts/browser.sh, or set ATTUNE_CHROMIUM): ${String(err)}`);
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
    },
  };
}

/** The folder screenshots and other test artifacts go to (created). */
export function artifactsDir(): string {
  const dir = resolve(process.env.ATTUNE_TEST_ARTIFACTS ?? 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}
