import { Command } from 'commander';
import { register } from './src/cli/commands/eval.js';
const p = new Command(); register(p); await p.parseAsync(process.argv);
