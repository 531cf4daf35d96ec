/**
 * Diagnostics, one JSON object per line on stderr (stdout carries only audit records). Callers pass
 * names, codes and ids; never a token, secret value or Authorization header.
 */
type Fields = Record<string, unknown>;

function emit(level: 'info' | 'warn' | 'error', message: string, fields?: Fields): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  if (level === 'error') console.error(line);
  else console.warn(line);
}

export const log = {
  info: (message: string, fields?: Fields) => emit('info', message, fields),
  warn: (message: string, fields?: Fields) => emit('warn', message, fields),
  error: (message: string, fields?: Fields) => emit('error', message, fields),
};
