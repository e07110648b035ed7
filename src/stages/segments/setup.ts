/**
 * Set-up of the stage from the config: the feature configuration and the compiled rule file, validated once at
 * start-up so that a bad window list or rule file stops the worker with a ConfigError naming what to fix.
 */
import type { Config } from '../../config/config.js';
import { ConfigError } from '../../errors.js';
import { resolveFeatureConfig, type FeatureConfig } from './features/config.js';
import { compileRules, type CompiledSegments } from './core/compile.js';
import { loadSegmentRulesFile, SegmentRulesError } from './core/rules.js';

export interface SegmentSetup {
  featureConfig: FeatureConfig;
  rules: CompiledSegments;
}

/** Builds the feature configuration and compiles the rule file; a bad file is a ConfigError naming rule and line:col. */
export function loadSegmentSetup(cfg: Pick<Config, 'segmentRules' | 'featureWindows' | 'sessionGapMs' | 'allowedLatenessMs' | 'timerResolutionMs' | 'affinityHalfLifeMs'>): SegmentSetup {
  let featureConfig: FeatureConfig;
  try {
    featureConfig = resolveFeatureConfig({
      windows: cfg.featureWindows,
      sessionGapMs: cfg.sessionGapMs,
      allowedLatenessMs: cfg.allowedLatenessMs,
      timerResolutionMs: cfg.timerResolutionMs,
      affinityHalfLifeMs: cfg.affinityHalfLifeMs,
    });
  } catch (err) {
    throw new ConfigError(`ATTUNE_FEATURE_WINDOWS: ${(err as Error).message}`);
  }
  try {
    return { featureConfig, rules: compileRules(loadSegmentRulesFile(cfg.segmentRules, featureConfig), featureConfig) };
  } catch (err) {
    if (err instanceof SegmentRulesError) throw new ConfigError(`${err.message}\n  (fix the file or point ATTUNE_SEGMENT_RULES elsewhere)`);
    throw new ConfigError(`ATTUNE_SEGMENT_RULES=${cfg.segmentRules}: cannot read the rule file: ${(err as Error).message}`);
  }
}
