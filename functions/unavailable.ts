import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { Auditor } from '../shared/audit/auditor.js';
import type { AuditEvent } from '../shared/audit/record.js';
import { stdoutSink } from '../shared/audit/stdout-sink.js';
import { audited } from '../shared/audit/trail.js';
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
  // The same audit trail as every request, with the one sink there is before startup.
  const endpoint = event === 'credential.read' ? 'credentials' : 'token';
  const result = await audited(new Auditor([stdoutSink], false), endpoint, { correlationId, clientIp: clientIpOf(request) }, Date.now(), () =>
    Promise.reject(err),
  );
  return toResponse(result);
}
