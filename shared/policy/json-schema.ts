import { z } from 'zod';
import { policySchema } from './schema.js';

/**
 * The JSON Schema of the policy file, generated from the zod schema the loader uses (never written
 * by hand): `tokex policy schema` prints it, `policy.schema.json` is it, a test keeps them equal.
 * Checks zod cannot express (URL rules, cross-references) stay with `tokex policy check`.
 */
export function policyJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(policySchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    title: 'tokex policy',
    description: 'Who may exchange which token for what (DESIGN.md "Policy file"). Validate fully with `tokex policy check`.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}
