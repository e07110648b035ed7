/**
 * What the security suite needs from the secured local services (`bash scripts/services.sh up secure`): the CA,
 * endpoints, users and passwords that scripts/lib/secure.sh generated into $ATTUNE_STATE_DIR/secure/secure.env,
 * and Redis ACL users made per test run from the rules in scripts/lib/redis-acl-rules.txt.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { PACKAGE_ROOT } from '../../src/package-root.js';
import { uniqueName } from '../support/env.js';

const STATE_DIR = process.env.ATTUNE_STATE_DIR ?? join(homedir(), '.local/state/attune');
export const SECURE_ENV_FILE = join(STATE_DIR, 'secure', 'secure.env');

export interface SecureEnv {
  CA_FILE: string;
  KAFKA_SASL_BROKERS: string;
  /** The same broker's PLAINTEXT listener. */
  KAFKA_PLAINTEXT_BROKERS: string;
  KAFKA_SCRAM_USERNAME: string;
  KAFKA_SCRAM_PASSWORD: string;
  KAFKA_PLAIN_USERNAME: string;
  KAFKA_PLAIN_PASSWORD: string;
  REDIS_TLS_URL: string;
  REDIS_TLS_CLUSTER_NODES: string;
  REDIS_ADMIN_USERNAME: string;
  REDIS_ADMIN_PASSWORD: string;
  REDIS_USERNAME: string;
  REDIS_PASSWORD: string;
}

export function secureEnv(): SecureEnv {
  let text: string;
  try {
    text = readFileSync(SECURE_ENV_FILE, 'utf8');
  } catch {
    throw new Error(`${SECURE_ENV_FILE} is missing: start the secured services with \`bash scripts/services.sh up secure\``);
  }
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out as unknown as SecureEnv;
}

/** The Redis ACL rules Attune needs, without the key pattern (one line, as ACL SETUSER arguments). */
export function attuneAclRules(): string[] {
  return readFileSync(join(PACKAGE_ROOT, 'scripts/lib/redis-acl-rules.txt'), 'utf8')
    .split('\n').filter((l) => !l.startsWith('#')).join(' ').split(/\s+/).filter(Boolean);
}

/** Admin connections to every node of the TLS Redis (one) or the TLS Cluster (three): ACLs are per node. */
export function adminNodes(env: SecureEnv, which: 'single' | 'cluster'): Redis[] {
  const ca = [readFileSync(env.CA_FILE)];
  const addrs = which === 'single' ? [new URL(env.REDIS_TLS_URL).host] : env.REDIS_TLS_CLUSTER_NODES.split(',');
  return addrs.map((hp) => {
    const [host, port] = hp.split(':');
    return new Redis({ host, port: Number(port), tls: { ca }, username: env.REDIS_ADMIN_USERNAME, password: env.REDIS_ADMIN_PASSWORD, maxRetriesPerRequest: 1 });
  });
}

/**
 * A Redis ACL user made for this run on every node: `rules` (default: Attune's) on the keys `keyPattern`.
 * Returns its name and password; `drop` deletes it again.
 */
export async function makeAclUser(nodes: Redis[], keyPattern: string, rules = attuneAclRules()) {
  const username = uniqueName('acl-');
  const password = uniqueName('pw-');
  for (const n of nodes) await n.call('ACL', 'SETUSER', username, 'reset', 'on', `>${password}`, 'resetkeys', keyPattern, ...rules);
  return {
    username, password,
    /** Denials the servers logged for this user (ACL LOG), e.g. a command Attune needs but the rules forbid. */
    async denials(): Promise<string[]> {
      const out: string[] = [];
      for (const n of nodes) {
        const entries = (await n.call('ACL', 'LOG', '128')) as unknown[][];
        for (const e of entries) {
          const kv = new Map<string, unknown>();
          for (let i = 0; i + 1 < e.length; i += 2) kv.set(String(e[i]), e[i + 1]);
          if (kv.get('username') === username) out.push(`${String(kv.get('reason'))} ${String(kv.get('object'))}`);
        }
      }
      return out;
    },
    async drop() {
      for (const n of nodes) await n.call('ACL', 'DELUSER', username).catch(() => {});
    },
  };
}

export async function deleteByPattern(nodes: Redis[], pattern: string): Promise<void> {
  for (const n of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await n.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      // Cluster nodes refuse a multi-key DEL across slots: one key at a time.
      for (const k of keys) await n.del(k).catch(() => {});
    } while (cursor !== '0');
  }
}

