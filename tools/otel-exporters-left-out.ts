/**
 * The Application Insights SDK starts OpenTelemetry's NodeSDK (@opentelemetry/sdk-node), which
 * requires, at load, every exporter it could build from `OTEL_*_EXPORTER` settings (read only when
 * it is given no span processors, metric readers or log processors) or from a declarative
 * configuration file (startNodeSDK, which nothing here calls): OTLP over gRPC and protobuf (with
 * grpc-js and protobufjs), Prometheus, Zipkin, and the configuration-file model. Azure Monitor
 * always hands NodeSDK its own processors and readers, so NodeSDK never builds any of those; they are
 * 4.5 MB of the deployed bundle's input, loaded (and parsed) by every start of the audit worker.
 *
 * The deployed package replaces them, as imported by sdk-node only, with a module whose every export
 * throws, naming the package, if anything ever calls it. The OTLP/HTTP exporters stay: the
 * Application Insights SDK itself uses them. Should an upgrade ever make NodeSDK build one of these,
 * the deploy test's Application Insights export fails (test/deploy/package.test.ts).
 */
import type { Plugin } from 'esbuild';

export const LEFT_OUT_EXPORTERS = [
  '@opentelemetry/configuration',
  '@opentelemetry/exporter-logs-otlp-grpc',
  '@opentelemetry/exporter-logs-otlp-proto',
  '@opentelemetry/exporter-metrics-otlp-grpc',
  '@opentelemetry/exporter-metrics-otlp-proto',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/exporter-trace-otlp-grpc',
  '@opentelemetry/exporter-trace-otlp-proto',
  '@opentelemetry/exporter-zipkin',
  '@opentelemetry/otlp-grpc-exporter-base',
] as const;

const NAMESPACE = 'tokex-left-out';

/** The CommonJS module that stands in for `name`: any export, called or constructed, throws. */
export function leftOutModule(name: string): string {
  const message = `${name} is left out of tokex's package (tools/otel-exporters-left-out.ts), yet OpenTelemetry's NodeSDK tried to use it: a dependency update changed what Azure Monitor gives NodeSDK, so build the package without that stand-in`;
  return [
    `const message = ${JSON.stringify(message)};`,
    'function leftOut() { throw new Error(message); }',
    // Export names only: never a promise (`then`), plain CommonJS to importers (`__esModule`), and
    // what every object has (symbols, toString, toJSON) as usual, so no conversion throws.
    "const plain = new Set(['then', '__esModule', 'toJSON']);",
    "module.exports = new Proxy({}, { get: (target, key) => (typeof key === 'symbol' || key in target || plain.has(key) ? Reflect.get(target, key) : leftOut) });",
  ].join('\n');
}

export const otelExportersLeftOut: Plugin = {
  name: 'otel-exporters-left-out',
  setup(bundle) {
    const names = new Set<string>(LEFT_OUT_EXPORTERS);
    bundle.onResolve({ filter: /^@opentelemetry\// }, (args) =>
      names.has(args.path) && /[\\/]node_modules[\\/]@opentelemetry[\\/]sdk-node[\\/]/.test(args.importer)
        ? { path: args.path, namespace: NAMESPACE }
        : undefined,
    );
    bundle.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: leftOutModule(args.path), loader: 'js' }));
  },
};
