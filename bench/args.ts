/** The value after `name` in a bench's command line, or `def` when the option is absent or has no value. */
export function optionOf(argv: readonly string[], name: string, def: string): string {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1]! : def;
}
