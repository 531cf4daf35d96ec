/** tokex/client: call tokex from TypeScript. */
export { TokexCredential, targetOf, type TokexCredentialOptions } from './tokex-credential.js';
export { exchangeToken, TokexExchangeError, type ExchangeParameters, type ExchangeResult } from './exchange.js';
