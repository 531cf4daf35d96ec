import { z } from 'zod';
import { CALLER_KINDS } from '../caller/caller.js';
import { GUID, KV_REFERENCE, NAME, SCOPE_TOKEN, SECRET_GLOB } from '../patterns.js';
import { isAbsoluteUri, isAllowedFetchUrl } from '../url.js';
import { DURATION } from './duration.js';

/**
 * The policy file's shape (DESIGN.md "Policy file"). Every object is strict: an unknown key is a
 * mistake the author wants to hear about, not something to skip.
 */

/** Signature algorithms a caller token may use; `none` and HMAC are not expressible. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const name = z.string().regex(NAME, 'must be 1-64 letters, digits, ".", "_" or "-"');
const guid = z.string().regex(GUID, 'must be a GUID');
const fetchUrl = z.string().refine(isAllowedFetchUrl, 'must be an https URL (http only on loopback)');
const absoluteUri = z.string().refine(isAbsoluteUri, 'must be an absolute URI');
const kvRef = z.string().regex(KV_REFERENCE, 'must be kv:<secret-name>');
const nonEmptyList = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'must not be empty');
const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, nonEmptyList(item)]);

export const issuerSchema = z.strictObject({
  name,
  kind: z.enum(['entra', 'oidc']).optional(),
  // `{tenantid}` is allowed in the path of a multi-tenant Entra issuer, so check the URL without it.
  issuer: z.string().refine((s) => isAllowedFetchUrl(s.replace('{tenantid}', 'common')), 'must be an https URL (http only on loopback)'),
  audience: oneOrMany(z.string().min(1)),
  jwksUri: fetchUrl.optional(),
  algorithms: nonEmptyList(z.enum(ASYMMETRIC_ALGORITHMS)).optional(),
  tenants: nonEmptyList(guid).optional(),
  types: nonEmptyList(z.string().min(1)).optional(),
  /** Entra only: refuse tokens with neither `scp` nor `roles` (ID tokens). Default true. */
  requireScpOrRoles: z.boolean().optional(),
  /** Claims holding a space-delimited set of values (default `[scp]`): each value is matched on its own. */
  spaceDelimited: z.array(z.string().min(1)).optional(),
});

const identitySchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('managed-identity'), clientId: guid.optional() }),
  z
    .strictObject({
      type: z.literal('service-principal'),
      tenantId: guid,
      clientId: guid,
      clientSecret: kvRef.optional(),
      certificate: kvRef.optional(),
    })
    .refine((sp) => (sp.clientSecret === undefined) !== (sp.certificate === undefined), {
      message: 'needs exactly one of clientSecret or certificate',
    }),
  z.strictObject({ type: z.literal('azure-cli') }),
  // An app registration whose federated credential is tokex's managed identity: no secret anywhere.
  z.strictObject({
    type: z.literal('app'),
    tenantId: guid,
    clientId: guid,
    /** The user-assigned identity whose token is the assertion; default the system-assigned one. */
    managedIdentityClientId: guid.optional(),
    /** The assertion's audience; default api://AzureADTokenExchange (other clouds have their own). */
    assertionAudience: z.string().min(1).optional(),
  }),
]);

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

const grantSchema = z.union([
  z.strictObject({ entra: absoluteUri, identity: name, onBehalfOf: z.boolean().optional() }),
  z.strictObject({
    minted: absoluteUri,
    scopes: nonEmptyList(z.string().regex(SCOPE_TOKEN, 'must be an RFC 6749 scope token')),
    lifetime: z.string().regex(DURATION, 'must be a duration such as 90s, 15m or 1h').optional(),
  }),
  z.strictObject({ secrets: nonEmptyList(z.string().regex(SECRET_GLOB, 'must be a secret name or glob')) }),
]);

const ruleSchema = z.strictObject({
  name,
  when: z.strictObject({
    issuer: name,
    /** The caller's kind as tokex derives it (shared/caller/caller.ts); a list means any of them. */
    kind: oneOrMany(z.enum(CALLER_KINDS)).optional(),
    claims: z.record(z.string().min(1), oneOrMany(claimValue)).optional(),
    /** Delegation: the rule holds only for a request with an actor token from `issuer` whose claims hold. */
    actor: z
      .strictObject({
        issuer: name,
        claims: z.record(z.string().min(1), oneOrMany(claimValue)).optional(),
      })
      .optional(),
  }),
  grant: nonEmptyList(grantSchema),
});

export const policySchema = z.strictObject({
  issuers: z.array(issuerSchema).default([]),
  identities: z.record(name, identitySchema).default({}),
  rules: nonEmptyList(ruleSchema),
});

export type PolicyDocument = z.infer<typeof policySchema>;
export type IssuerEntry = z.infer<typeof issuerSchema>;
export type IdentityEntry = z.infer<typeof identitySchema>;
export type RuleEntry = z.infer<typeof ruleSchema>;
const keysOf = (...objects: { shape: object }[]) => [...new Set(objects.flatMap((o) => Object.keys(o.shape)))];

/** The keys each kind of object may have, from the schema itself: for "did you mean" on an unknown key. */
export const KNOWN_KEYS = {
  policy: keysOf(policySchema),
  issuer: keysOf(issuerSchema),
  identity: keysOf(...identitySchema.options),
  rule: keysOf(ruleSchema),
  when: keysOf(ruleSchema.shape.when),
  actor: keysOf(ruleSchema.shape.when.shape.actor.unwrap()),
  grant: keysOf(...grantSchema.options),
} as const;
