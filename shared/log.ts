/**
 * Diagnostics, one JSON object per line on stderr (stdout carries only audit records), and to any
 * subscriber (the Application Insights sink sends them as traces). Callers pass names, codes and
 * ids; never a token, secret value or Authorization header.
 */
export type LogLevel = 'info' | 'warn' | 'error';
type Fields = Record<string, unknown>;
type Subscriber = (level: LogLevel, message: string, fields: Fields | undefined) => void;

const subscribers: Subscriber[] = [];

function emit(level: LogLevel, message: string, fields?: Fields): void {
  const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
  if (level === 'error') console.error(line);
  else console.warn(line);
  for (const subscriber of subscribers) subscriber(level, message, fields);
}

export const log = {
  info: (message: string, fields?: Fields) => emit('info', message, fields),
  warn: (message: string, fields?: Fields) => emit('warn', message, fields),
  error: (message: string, fields?: Fields) => emit('error', message, fields),
  subscribe: (subscriber: Subscriber) => void subscribers.push(subscriber),
};
