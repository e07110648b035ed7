/**
 * The recommender settings of a worker or API: the preset named by ATTUNE_RECOMMENDER_PRESET (default retail),
 * the JSON file named by ATTUNE_RECOMMENDER_CONFIG merged on top of it, and ATTUNE_MAX_ITEMS and ATTUNE_MAX_PAIRS
 * (when given) as `limits.maxItems` and `limits.maxPairs`.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../../errors.js';
import { mergeConfig, parseRecommenderConfig, type RecommenderConfig, type RecommenderConfigInput } from './config.js';
import { presetConfig } from './presets.js';

export function loadRecommenderConfig(cfg: { recommenderConfig?: string; recommenderPreset?: string; maxItems?: number; maxPairs?: number }): RecommenderConfig {
  const out = loadFile(cfg);
  if (cfg.maxItems !== undefined) out.limits.maxItems = cfg.maxItems;
  if (cfg.maxPairs !== undefined) out.limits.maxPairs = cfg.maxPairs;
  return out;
}

function loadFile(cfg: { recommenderConfig?: string; recommenderPreset?: string }): RecommenderConfig {
  let preset: RecommenderConfigInput;
  try {
    preset = presetConfig(cfg.recommenderPreset ?? 'retail');
  } catch (err) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_PRESET=${cfg.recommenderPreset}: ${(err as Error).message}`);
  }
  if (!cfg.recommenderConfig) return parseRecommenderConfig(preset);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(cfg.recommenderConfig, 'utf8'));
  } catch (err) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_CONFIG=${cfg.recommenderConfig}: cannot read it as JSON (${(err as Error).message}); point it at a JSON file or unset it`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_CONFIG=${cfg.recommenderConfig}: the file must hold one JSON object of settings (see docs/recommender.md)`);
  }
  try {
    return parseRecommenderConfig(mergeConfig(preset, raw as RecommenderConfigInput));
  } catch (err) {
    throw new ConfigError(`ATTUNE_RECOMMENDER_CONFIG=${cfg.recommenderConfig}: ${(err as Error).message}`);
  }
}
