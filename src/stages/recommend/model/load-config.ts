/** Reads the recommender settings file named by ATTUNE_RECOMMENDER_CONFIG (defaults when unset). */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../errors.js';
import { parseRecommenderConfig, type RecommenderConfig } from './config.js';

/** The file's settings, with ATTUNE_MAX_ITEMS (when given) as `limits.maxItems`. */
export function loadRecommenderConfig(cfg: { recommenderConfig?: string; maxItems?: number }): RecommenderConfig {
  const out = loadFile(cfg);
  if (cfg.maxItems !== undefined) out.limits.maxItems = cfg.maxItems;
  return out;
}

function loadFile(cfg: { recommenderConfig?: string }): RecommenderConfig {
  if (!cfg.recommenderConfig) return parseRecommenderConfig({});
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfg.recommenderConfig, 'utf8'));
  } catch (err) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_CONFIG=${cfg.recommenderConfig}: cannot read it as JSON (${(err as Error).message}); point it at a JSON file or unset it`);
  }
  try {
    return parseRecommenderConfig(raw as never);
  } catch (err) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_CONFIG=${cfg.recommenderConfig}: ${(err as Error).message}`);
  }
}
