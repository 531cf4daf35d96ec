/** `90s`, `15m`, `1h`. Apart from the schema, so the CLI parses `--lifetime` without loading zod. */
export const DURATION = /^([1-9][0-9]*)(s|m|h)$/;

export function seconds(duration: string): number {
  const m = DURATION.exec(duration);
  if (!m) throw new RangeError(`not a duration: ${duration}`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as const)[m[2] as 's' | 'm' | 'h'];
}
