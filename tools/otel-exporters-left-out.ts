/**
 * The Application Insights SDK starts OpenTelemetry's NodeSDK (@opentelemetry/sdk-node), which
 * requires, at load, every exporter it could build from `OTEL_*_EXPORTER` settings or a declarative
 * configuration file: OTLP over gRPC and protobuf (with grpc-js and protobufjs), Prometheus, Zipkin,
 * and the configuration-file model. Azure Monitor hands NodeSDK its own span processors, metric
 * readers and log processors, so NodeSDK never builds any of those; they are 4.5 MB of the deployed
 * bundle's input, loaded (and parsed) by every start of the audit worker.
 *
 * The deployed package replaces them, as imported by sdk-node only, with a module whose every export
 * throws, naming the package, if anything ever calls it. The OTLP/HTTP exporters stay: the
 * Application Insights SDK itself uses them.
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
  const message = `${name} is left out of tokex's package: tokex exports telemetry to Application Insights only (unset OTEL_*_EXPORTER and OTEL_EXPERIMENTAL_CONFIG_FILE)`;
  return [
    `const message = ${JSON.stringify(message)};`,
    'function leftOut() { throw new Error(message); }',
    // `then` undefined: never mistaken for a promise; `__esModule` false: plain CommonJS to importers.
    "module.exports = new Proxy({}, { get: (_, key) => (key === 'then' || key === '__esModule' ? undefined : leftOut) });",
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
