export * from './rules.js';
export * from './compile.js';
export * from './tracker.js';
export * from './engine.js';
