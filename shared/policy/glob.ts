/** A string pattern where `*` matches any run of characters (including none); nothing else is special. */
export type Matcher = (value: string) => boolean;

/** C0 controls (U+0000–U+001F) and DEL: a value holding one (a newline, say) is never matched by a glob. */
const hasControlCharacter = (value: string): boolean => {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
};

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
  return (value) => !hasControlCharacter(value) && re.test(value);
}
