// gRPC server reflection (v1 and v1alpha) so grpcurl and other generic clients can discover the services
// without the .proto files. @grpc/reflection expects a proto-loader PackageDefinition, but only reads
// each entry's `fileDescriptorProtos` (serialized FileDescriptorProto buffers), so we hand it exactly
// that, built from the protobuf-es descriptors the server already has.
import type * as grpc from '@grpc/grpc-js';
import { toBinary, type DescFile, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { ReflectionService } from '@grpc/reflection';

type PackageDefinition = ConstructorParameters<typeof ReflectionService>[0];

/** The file of each service and all files it imports, transitively, each once. */
export function collectFiles(services: DescService[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.set(file.name, file);
    for (const dep of file.dependencies) visit(dep);
  };
  for (const s of services) visit(s.file);
  return [...seen.values()];
}

export function addReflection(server: grpc.Server, services: DescService[]): void {
  const fileDescriptorProtos = collectFiles(services).map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  const pkg: PackageDefinition = {};
  for (const s of services) pkg[s.typeName] = { fileDescriptorProtos } as unknown as PackageDefinition[string];
  new ReflectionService(pkg, { services: services.map((s) => s.typeName) }).addToServer(server);
}
