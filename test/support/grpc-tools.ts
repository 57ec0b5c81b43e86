// Clients that any gRPC user has, independent of juice's own kit: the standard health and reflection
// protocols, loaded from their published .proto files.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const reflectionProto = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build/proto/grpc/reflection/v1/reflection.proto');
const healthProto = join(dirname(require.resolve('grpc-health-check/package.json')), 'proto/health/v1/health.proto');

type Ctor = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client & Record<string, any>;

function load(path: string, pkgPath: string[], service: string): Ctor {
  const def = protoLoader.loadSync(path, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  let obj: any = grpc.loadPackageDefinition(def);
  for (const p of pkgPath) obj = obj[p];
  return obj[service] as Ctor;
}

export async function healthStatus(address: string, service = '', creds: grpc.ChannelCredentials = grpc.credentials.createInsecure()): Promise<string> {
  const Health = load(healthProto, ['grpc', 'health', 'v1'], 'Health');
  const c = new Health(address, creds);
  try {
    return await new Promise((resolve, reject) =>
      c.Check({ service }, { deadline: Date.now() + 5000 }, (err: grpc.ServiceError | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))),
    );
  } finally {
    c.close();
  }
}

/** Asks server reflection (grpc.reflection.v1) for the list of services, as grpcurl does. */
export async function reflectedServices(address: string): Promise<string[]> {
  const Reflection = load(reflectionProto, ['grpc', 'reflection', 'v1'], 'ServerReflection');
  const c = new Reflection(address, grpc.credentials.createInsecure());
  try {
    return await new Promise((resolve, reject) => {
      const call = c.ServerReflectionInfo({ deadline: Date.now() + 5000 });
      call.on('data', (res: any) => {
        if (res.error_response) reject(new Error(res.error_response.error_message));
        else resolve((res.list_services_response?.service ?? []).map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ list_services: '' });
    });
  } finally {
    c.close();
  }
}
