/** tokex/client: call tokex from TypeScript. */

export { type ExchangeParameters, type ExchangeResult, exchangeToken, TokexExchangeError } from './exchange.js';
export { TokexCredential, type TokexCredentialOptions, targetOf } from './tokex-credential.js';
