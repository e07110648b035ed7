export * from './config.js';
export * from './state.js';
export * from './view.js';
export * from './watermark.js';
