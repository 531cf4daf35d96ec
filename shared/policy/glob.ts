/** A string pattern where `*` matches any run of characters (including none); nothing else is special. */
export type Matcher = (value: string) => boolean;

/** C0 controls and DEL: a value holding one (a newline, say) is never matched by a glob. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * `caseInsensitive` is for Key Vault secret names, which Key Vault itself compares that way.
 * A glob never matches a value holding a control character, so `team-*` cannot be satisfied by
 * `"team-a\nadmin"` nor a value smuggled across lines.
 */
export function compileGlob(pattern: string, options: { caseInsensitive?: boolean } = {}): Matcher {
  if (!pattern.includes('*')) {
    if (!options.caseInsensitive) return (value) => value === pattern;
    const lower = pattern.toLowerCase();
    return (value) => value.toLowerCase() === lower;
  }
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.+?()[\]{}|/]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${source}$`, options.caseInsensitive ? 'si' : 's');
  return (value) => !CONTROL.test(value) && re.test(value);
}
