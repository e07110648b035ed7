/**
 * The strategies a recommender or `attune eval` can be asked for by name. Today only the hybrid; later
 * strategies (collaborative-only, content-only, trending, buy-again) are compositions of the same parts.
 */
import { hybridStrategy } from './hybrid.js';
import type { StrategyFactory } from './types.js';

export const STRATEGIES: Readonly<Record<string, StrategyFactory>> = { hybrid: hybridStrategy };

/** The factory of a named strategy; throws listing the known names when unknown. */
export function strategyByName(name: string): StrategyFactory {
  const f = Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name] : undefined;
  if (!f) throw new Error(`unknown strategy '${name}' (known: ${Object.keys(STRATEGIES).join(', ')})`);
  return f;
}
