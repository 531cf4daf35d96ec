/**
 * Evaluates the few ARM template functions the compiled infra/ uses in the values the tests check
 * (`[format('https://{0}…', variables('x'))]`), so a test can read an app setting as Azure would
 * set it. `reference()` of a module answers from `outputs`: values the test chooses and checks the
 * module really declares. An unknown function throws, naming it: extend the table, don't guess.
 */
export interface ArmContext {
  readonly parameters: Record<string, unknown>;
  readonly variables: Record<string, unknown>;
  /** Stand-in outputs per module (nested deployment) name. */
  readonly outputs: Record<string, Record<string, unknown>>;
}

type Value = unknown;

const functions: Record<string, (ctx: ArmContext, args: Value[]) => Value> = {
  parameters: (ctx, [name]) => {
    if (!(String(name) in ctx.parameters)) throw new Error(`no parameter ${String(name)}`);
    return ctx.parameters[String(name)];
  },
  variables: (ctx, [name]) => evaluate(ctx, ctx.variables[String(name)]),
  format: (_, [template, ...args]) => String(template).replace(/\{(\d+)\}/g, (_m, i: string) => String(args[Number(i)])),
  string: (_, [value]) => (typeof value === 'boolean' ? (value ? 'True' : 'False') : String(value)),
  toLower: (_, [value]) => String(value).toLowerCase(),
  take: (_, [value, n]) => String(value).slice(0, Number(n)),
  uniqueString: () => 'abcdefghijklm',
  subscription: () => ({ subscriptionId: '00000000-0000-0000-0000-0000000000aa', id: '/subscriptions/00000000-0000-0000-0000-0000000000aa' }),
  tenant: () => ({ tenantId: '00000000-0000-0000-0000-0000000000bb' }),
  extensionResourceId: (_, [scope, type, name]) => `${String(scope)}/providers/${String(type)}/${String(name)}`,
  reference: (ctx, [id]) => {
    const module = /\/providers\/Microsoft\.Resources\/deployments\/(\w+)$/.exec(String(id))?.[1];
    if (!module || !ctx.outputs[module]) throw new Error(`reference() to ${String(id)}: no stand-in outputs`);
    return { outputs: Object.fromEntries(Object.entries(ctx.outputs[module]!).map(([k, v]) => [k, { value: v }])) };
  },
};

/** A template value with every `[expression]` string in it evaluated. */
export function evaluate(ctx: ArmContext, value: Value): Value {
  if (typeof value === 'string') return value.startsWith('[') && !value.startsWith('[[') ? new Parser(ctx, value.slice(1, -1)).expression() : value;
  if (Array.isArray(value)) return value.map((v) => evaluate(ctx, v));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(ctx, v)]));
  return value;
}

class Parser {
  private at = 0;
  constructor(
    private readonly ctx: ArmContext,
    private readonly text: string,
  ) {}

  expression(): Value {
    let value = this.primary();
    for (;;) {
      this.space();
      if (this.text[this.at] === '.') {
        this.at++;
        const name = this.identifier();
        value = (value as Record<string, Value>)[name];
      } else if (this.text[this.at] === '[') {
        this.at++;
        const index = this.expression();
        this.expect(']');
        value = (value as Record<string, Value>)[String(index)];
      } else return value;
    }
  }

  private primary(): Value {
    this.space();
    if (this.text[this.at] === "'") {
      let out = '';
      for (this.at++; ; this.at++) {
        if (this.at >= this.text.length) throw new Error(`unterminated string in ${this.text}`);
        if (this.text[this.at] === "'") {
          if (this.text[this.at + 1] !== "'") break;
          this.at++;
        }
        out += this.text[this.at];
      }
      this.at++;
      return out;
    }
    const number = /^-?\d+/.exec(this.text.slice(this.at));
    if (number) {
      this.at += number[0].length;
      return Number(number[0]);
    }
    const name = this.identifier();
    if (name === 'true' || name === 'false') return name === 'true';
    this.expect('(');
    const args: Value[] = [];
    this.space();
    if (this.text[this.at] !== ')') {
      for (;;) {
        args.push(this.expression());
        this.space();
        if (this.text[this.at] !== ',') break;
        this.at++;
      }
    }
    this.expect(')');
    const fn = functions[name];
    if (!fn) throw new Error(`ARM function ${name}() is not evaluated by this test helper (in ${this.text})`);
    return fn(this.ctx, args);
  }

  private identifier(): string {
    this.space();
    const m = /^[A-Za-z_][\w]*/.exec(this.text.slice(this.at));
    if (!m) throw new Error(`expected a name at ${this.at} in ${this.text}`);
    this.at += m[0].length;
    return m[0];
  }

  private expect(ch: string): void {
    this.space();
    if (this.text[this.at] !== ch) throw new Error(`expected ${ch} at ${this.at} in ${this.text}`);
    this.at++;
  }

  private space(): void {
    while (this.text[this.at] === ' ') this.at++;
  }
}
