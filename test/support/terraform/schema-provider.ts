// A schema-only Terraform provider: the tfplugin6 gRPC protocol on loopback, serving a
// provider schema converted from its CDKTF package (jsii-schema.ts) and accepting every
// configuration that fits the schema. That is exactly what `terraform validate` needs: the
// real Terraform checks arguments, required arguments, types, blocks and references against
// the schema itself; a real provider would add only its own validation functions (enum
// values, regexes), which no schema carries.
//
// Run as its own process (go-plugin kills the reattach PID if it cannot connect, so that
// must never be the test runner):
//
//   tsx test/support/terraform/schema-provider.ts [--exit-with-stdin] SCHEMA.json [SCHEMA.json ...]
//
// It serves each schema on its own 127.0.0.1 port and prints one line, the value for
// TF_REATTACH_PROVIDERS: {"registry.terraform.io/hashicorp/google":{"Protocol":"grpc",
// "ProtocolVersion":6,"Pid":..,"Test":true,"Addr":{"Network":"tcp","String":"127.0.0.1:P"}}}.
// "Test": true tells go-plugin the process is not Terraform's to stop. Stop it by PID.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProviderSchema, TfBlock } from './jsii-schema.js';

const PROTO = join(import.meta.dirname, 'tfplugin6.proto');

interface WireBlock {
  version: number;
  attributes: { name: string; type: Buffer; required: boolean; optional: boolean; computed: boolean; description: string }[];
  block_types: { type_name: string; nesting: string; min_items: number; max_items: number; block: WireBlock }[];
  description: string;
}

/** Our schema model -> the tfplugin6 Schema.Block message (the attribute type is cty JSON bytes). */
export function wireBlock(block: TfBlock): WireBlock {
  return {
    version: 0,
    description: '',
    attributes: block.attributes.map((a) => ({
      name: a.name,
      type: Buffer.from(JSON.stringify(a.type)),
      required: a.required,
      optional: a.optional,
      computed: a.computed,
      description: '',
    })),
    block_types: block.blockTypes.map((b) => ({
      type_name: b.typeName,
      nesting: b.nesting,
      min_items: b.minItems,
      max_items: b.maxItems,
      block: wireBlock(b.block),
    })),
  };
}

function schemaResponse(schema: ProviderSchema): Record<string, unknown> {
  const wrap = (b: TfBlock) => ({ version: 0, block: wireBlock(b) });
  const map = (m: Record<string, TfBlock>) => Object.fromEntries(Object.entries(m).map(([k, b]) => [k, wrap(b)]));
  return {
    provider: wrap(schema.provider),
    resource_schemas: map(schema.resources),
    data_source_schemas: map(schema.dataSources),
    functions: {},
    ephemeral_resource_schemas: {},
    diagnostics: [],
    server_capabilities: { plan_destroy: false, get_provider_schema_optional: false, move_resource_state: false },
  };
}

type Handler = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;

const reply =
  (value: Record<string, unknown>): Handler =>
  (_call, callback) =>
    callback(null, value);

const notServed =
  (rpc: string): Handler =>
  (_call, callback) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: `schema-only provider (test/support/terraform): ${rpc} is not served; only validation is` });

/** grpc.health.v1.Health/Check -> SERVING, encoded by hand (field 1, varint 1): go-plugin's ping. */
const HEALTH: grpc.ServiceDefinition = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (v: Buffer) => v,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (v: Buffer) => v,
    responseDeserialize: (b: Buffer) => b,
  },
};

async function providerService(): Promise<grpc.ServiceDefinition> {
  const def = await protoLoader.load(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { tfplugin6: { Provider: grpc.ServiceClientConstructor } };
  return pkg.tfplugin6.Provider.service;
}

function handlers(schema: ProviderSchema): grpc.UntypedServiceImplementation {
  const ok = reply({ diagnostics: [] });
  return {
    GetMetadata: reply({
      server_capabilities: { plan_destroy: false, get_provider_schema_optional: false, move_resource_state: false },
      diagnostics: [],
      resources: Object.keys(schema.resources).map((type_name) => ({ type_name })),
      data_sources: Object.keys(schema.dataSources).map((type_name) => ({ type_name })),
      functions: [],
      ephemeral_resources: [],
    }),
    GetProviderSchema: reply(schemaResponse(schema)),
    ValidateProviderConfig: ok,
    ValidateResourceConfig: ok,
    ValidateDataResourceConfig: ok,
    ValidateEphemeralResourceConfig: ok,
    GetFunctions: reply({ functions: {}, diagnostics: [] }),
    StopProvider: reply({ Error: '' }),
    ...Object.fromEntries(
      [
        'UpgradeResourceState',
        'ConfigureProvider',
        'ReadResource',
        'PlanResourceChange',
        'ApplyResourceChange',
        'ImportResourceState',
        'MoveResourceState',
        'ReadDataSource',
        'OpenEphemeralResource',
        'RenewEphemeralResource',
        'CloseEphemeralResource',
        'CallFunction',
      ].map((rpc) => [rpc, notServed(rpc)]),
    ),
  };
}

export interface ReattachConfig {
  Protocol: 'grpc';
  ProtocolVersion: 6;
  Pid: number;
  Test: true;
  Addr: { Network: 'tcp'; String: string };
}

/** Serves each schema on its own loopback port; returns the TF_REATTACH_PROVIDERS map and a stop function. */
export async function serveSchemas(schemas: readonly ProviderSchema[]): Promise<{ reattach: Record<string, ReattachConfig>; stop: () => void }> {
  const service = await providerService();
  const servers: grpc.Server[] = [];
  const reattach: Record<string, ReattachConfig> = {};
  for (const schema of schemas) {
    const server = new grpc.Server();
    server.addService(service, handlers(schema));
    server.addService(HEALTH, { Check: (_call: unknown, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from([0x08, 0x01])) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    servers.push(server);
    reattach[schema.source] = { Protocol: 'grpc', ProtocolVersion: 6, Pid: process.pid, Test: true, Addr: { Network: 'tcp', String: `127.0.0.1:${port}` } };
  }
  return { reattach, stop: () => servers.forEach((s) => s.forceShutdown()) };
}

async function main(args: readonly string[]): Promise<void> {
  // --exit-with-stdin: stop when the parent's pipe closes, so a crashed test leaves no server.
  const exitWithStdin = args.includes('--exit-with-stdin');
  const files = args.filter((a) => a !== '--exit-with-stdin');
  if (files.length === 0) throw new Error('usage: schema-provider.ts [--exit-with-stdin] SCHEMA.json [SCHEMA.json ...]');
  const schemas = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')) as ProviderSchema));
  const { reattach, stop } = await serveSchemas(schemas);
  const exit = (): void => {
    stop();
    process.exit(0);
  };
  process.on('SIGTERM', exit);
  if (exitWithStdin) process.stdin.on('end', exit).resume();
  process.stdout.write(`${JSON.stringify(reattach)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error('schema-provider:', error);
    process.exit(1);
  });
}
