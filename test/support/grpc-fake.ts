// A generic gRPC fake server built from the .proto files shipped inside the @google-cloud/*
// packages, so the real GAPIC clients talk to it over real HTTP/2 + protobuf. Handlers are
// plain async functions; every call goes through the FaultPlan first.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FaultPlan, sleep } from './faults.js';

const require = createRequire(import.meta.url);

/** Directory holding `google/...` protos inside an installed package. */
export function protosDir(pkg: string): string {
  // Some packages do not export ./package.json: walk up from their main file instead.
  let dir = path.dirname(require.resolve(pkg));
  while (!fs.existsSync(path.join(dir, 'package.json')) || !fs.existsSync(path.join(dir, 'build', 'protos'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`grpc-fake: no build/protos found for ${pkg}`);
    dir = parent;
  }
  return path.join(dir, 'build', 'protos');
}

export type UnaryHandler = (request: Record<string, unknown>, metadata: grpc.Metadata) => Promise<unknown> | unknown;

export interface GrpcFakeOptions {
  /** Proto file paths relative to one of the include dirs. */
  protoFiles: string[];
  /** Extra include dirs (google-gax's common protos are always added). */
  includeDirs: string[];
  /** Fully qualified service name -> method name -> handler. */
  services: Record<string, Record<string, UnaryHandler>>;
}

export interface ReceivedCall {
  service: string;
  method: string;
  request: Record<string, unknown>;
  metadata: Record<string, string>;
}

export interface GrpcFake {
  port: number;
  faults: FaultPlan;
  received: ReceivedCall[];
  /** Options that point a GAPIC client at this fake without any Google credential. */
  clientOptions(): { apiEndpoint: string; port: number; sslCreds: grpc.ChannelCredentials; universeDomain: string };
  close(): Promise<void>;
}

export class GrpcError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

function flattenMetadata(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  return out;
}

/** Maps an HTTP-ish fault status to the gRPC status a Google frontend would return. */
export function grpcStatusFor(status: number): grpc.status {
  if (status <= 16) return status as grpc.status;
  switch (status) {
    case 400: return grpc.status.INVALID_ARGUMENT;
    case 401: return grpc.status.UNAUTHENTICATED;
    case 403: return grpc.status.PERMISSION_DENIED;
    case 404: return grpc.status.NOT_FOUND;
    case 409: return grpc.status.ABORTED;
    case 412: return grpc.status.FAILED_PRECONDITION;
    case 429: return grpc.status.RESOURCE_EXHAUSTED;
    case 503: return grpc.status.UNAVAILABLE;
    case 504: return grpc.status.DEADLINE_EXCEEDED;
    default: return grpc.status.INTERNAL;
  }
}

export async function startGrpcFake(options: GrpcFakeOptions): Promise<GrpcFake> {
  const includeDirs = [...options.includeDirs, protosDir('google-gax')];
  const definition = await protoLoader.load(options.protoFiles, {
    includeDirs,
    keepCase: false,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);
  const server = new grpc.Server();
  const faults = new FaultPlan();
  const received: ReceivedCall[] = [];
  const pending = new Set<grpc.ServerUnaryCall<unknown, unknown>>();

  for (const [serviceName, methods] of Object.entries(options.services)) {
    let node: unknown = loaded;
    for (const part of serviceName.split('.')) node = (node as Record<string, unknown>)[part];
    const ctor = node as { service?: grpc.ServiceDefinition } | undefined;
    if (!ctor?.service) throw new Error(`grpc-fake: service ${serviceName} not found in ${options.protoFiles.join(', ')}`);
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [methodName, handler] of Object.entries(methods)) {
      const key = methodName;
      impl[methodName] = (async (call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        pending.add(call);
        const fault = faults.take(key);
        const done = faults.record(key, fault, call.request);
        received.push({ service: serviceName, method: methodName, request: call.request, metadata: flattenMetadata(call.metadata) });
        try {
          if (faults.latencyMs > 0) await sleep(faults.latencyMs);
          if (fault?.delayMs) await sleep(fault.delayMs);
          if (fault?.hang) return; // never answers; the client's deadline must fire
          if (fault?.drop) {
            // Tear the HTTP/2 stream down without a status: the client sees UNAVAILABLE/INTERNAL.
            (call as unknown as { call?: { stream?: { destroy(): void } } }).call?.stream?.destroy();
            callback({ code: grpc.status.UNAVAILABLE, details: 'connection dropped by fake' });
            return;
          }
          if (fault?.status !== undefined) {
            const md = new grpc.Metadata();
            if (fault.retryAfter !== undefined) md.set('retry-after', String(fault.retryAfter));
            callback({ code: grpcStatusFor(fault.status), details: fault.message ?? `injected fault ${fault.status}`, metadata: md });
            return;
          }
          const response = await handler(call.request, call.metadata);
          callback(null, response);
        } catch (err) {
          if (err instanceof GrpcError) callback({ code: err.code, details: err.message });
          else callback({ code: grpc.status.INTERNAL, details: String(err) });
        } finally {
          pending.delete(call);
          done();
        }
      }) as grpc.handleUnaryCall<unknown, unknown>;
    }
    server.addService(ctor.service, impl);
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });

  return {
    port,
    faults,
    received,
    clientOptions: () => ({ apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' }),
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}
