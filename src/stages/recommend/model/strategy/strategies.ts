/**
 * The strategies a recommender, an experiment variant or `attune eval --strategy` can be asked for by name: the
 * hybrid (the default) and each of its sources alone (single-source.ts). All are compositions of the same parts.
 */
import { hybridStrategy } from './hybrid.js';
import { buyAgainStrategy, collaborativeStrategy, contentStrategy, trendingStrategy } from './single-source.js';
import type { StrategyFactory } from './types.js';

export const STRATEGIES: Readonly<Record<string, StrategyFactory>> = {
  hybrid: hybridStrategy,
  collaborative: collaborativeStrategy,
  content: contentStrategy,
  trending: trendingStrategy,
  'buy-again': buyAgainStrategy,
};

/** The names `strategyByName` knows, in registry order. */
export const STRATEGY_NAMES: readonly string[] = Object.keys(STRATEGIES);

/** The factory of a named strategy; throws listing the known names when unknown. */
export function strategyByName(name: string): StrategyFactory {
  const f = Object.hasOwn(STRATEGIES, name) ? STRATEGIES[name] : undefined;
  if (!f) throw new Error(`unknown strategy '${name}' (known: ${STRATEGY_NAMES.join(', ')}); pick one of those`);
  return f;
}
