/**
 * Times every Redis round trip of a client (attune_redis_command_duration_seconds{command}): from the moment
 * ioredis writes the command to the moment its reply (or error) arrives. It hooks the client's `sendCommand`,
 * which every command goes through — plain, auto-pipelined (one per command of the pipeline), MULTI'd, and the
 * script commands of scripts.ts — so no store method needs its own timer. A command ioredis sends again (its
 * offline queue after a reconnect, a Cluster redirection) is timed once, from its first send.
 *
 * The label is bounded: a script call is named by its script (the SHA of its source, looked up in the loader's
 * table; `evalsha` or `eval` if unknown), any other command by its Redis command name, lower case.
 */
import { createHash } from 'node:crypto';

export type CommandObserver = (command: string, seconds: number) => void;

interface SentCommand {
  name: string;
  args: unknown[];
  promise: Promise<unknown>;
}
type SendCommand = (command: SentCommand, ...rest: unknown[]) => unknown;

/** The label of a command: its script's name for EVALSHA/EVAL of a known script, else its command name. */
export function commandLabel(name: string, args: readonly unknown[], scriptsBySha: ReadonlyMap<string, string>): string {
  const n = name.toLowerCase();
  if (n === 'evalsha') return scriptsBySha.get(String(args[0])) ?? n;
  if (n === 'eval') return scriptsBySha.get(sha1(String(args[0]))) ?? n;
  return n;
}

export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

export function timeCommands(client: object, scriptsBySha: ReadonlyMap<string, string>, observe: CommandObserver): void {
  const target = client as { sendCommand: SendCommand };
  const send = target.sendCommand;
  const timed = new WeakSet<object>();
  target.sendCommand = function (this: unknown, command: SentCommand, ...rest: unknown[]) {
    if (command && typeof command === 'object' && !timed.has(command) && command.promise) {
      timed.add(command);
      const started = process.hrtime.bigint();
      const done = () => observe(commandLabel(command.name, command.args, scriptsBySha), Number(process.hrtime.bigint() - started) / 1e9);
      command.promise.then(done, done);
    }
    return send.call(this, command, ...rest);
  };
}
