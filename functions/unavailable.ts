import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { type AuditEvent, noteFailure, openRecord, outcomeOf } from '../shared/audit/record.js';
import { stdoutSink } from '../shared/audit/stdout-sink.js';
import { TokexError } from '../shared/errors.js';
import { oauthError } from '../shared/http-result.js';
import { log } from '../shared/log.js';
import { clientIpOf, correlationIdOf, toResponse } from './http.js';

/**
 * The answer while tokex has not started (`err` from TokexApp.tokex()): 503 `temporarily_unavailable`
 * with Retry-After, when the next startup attempt is due. /token and /credentials still get their
 * audit record, on stdout: the one sink that exists before startup.
 */
export async function notStarted(err: unknown, event: AuditEvent | undefined, request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const correlationId = correlationIdOf(context);
  if (event === undefined) {
    const failure = err instanceof TokexError ? err : new TokexError('internal_error', `unexpected ${(err as Error)?.name ?? 'error'}`);
    log.warn('request refused: tokex is not started', { correlationId, function: context.functionName, reason: failure.reason });
    return toResponse(oauthError(failure.reason, correlationId, failure.retryAfter));
  }
  const record = openRecord(event, correlationId, clientIpOf(request), Date.now());
  const failure = noteFailure(record, err);
  const result = oauthError(failure.reason, correlationId, failure.retryAfter);
  record.outcome = outcomeOf(result.status);
  await stdoutSink.write(record);
  return toResponse(result);
}
