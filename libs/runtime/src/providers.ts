// Which execution providers can run here. onnxruntime-node lists CUDA/TensorRT as "supported but not
// bundled": their libraries are downloaded by the package's install script only on request, so the
// listing alone does not tell whether a session would load. We check the library file as well, to fail
// with an actionable message before ORT's own (a dlopen error about providers_shared.so).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';

export type ExecutionProviderName = 'cpu' | 'cuda' | 'webgpu';

const CUDA_HOWTO =
  'To use CUDA, on a host with CUDA 12 and cuDNN 9 reinstall with the CUDA binaries: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install`.';
const WEBGPU_HOWTO = 'WebGPU needs libvulkan1 and a Vulkan driver for the GPU.';

/** Library each non-bundled provider needs next to the binding (from onnxruntime-node's install-metadata). */
const PROVIDER_LIBRARY: Record<string, string> = {
  cuda: process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so',
  tensorrt: process.platform === 'win32' ? 'onnxruntime_providers_tensorrt.dll' : 'libonnxruntime_providers_tensorrt.so',
};

function bindingDir(): string {
  const pkgMain = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(pkgMain), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export interface ProviderAvailability {
  name: string;
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
}

export function executionProviders(): ProviderAvailability[] {
  return ort.listSupportedBackends().map(({ name, bundled }) => {
    if (bundled) return { name, available: true };
    const lib = PROVIDER_LIBRARY[name];
    if (lib && existsSync(join(bindingDir(), lib))) return { name, available: true };
    return { name, available: false, reason: `its library ${lib ?? '(unknown)'} is not installed` };
  });
}

/** Names of the providers a session can be created with on this host. */
export function availableExecutionProviders(): string[] {
  return executionProviders().filter((p) => p.available).map((p) => p.name);
}

export class ExecutionProviderUnavailableError extends Error {
  constructor(
    readonly provider: string,
    readonly available: string[],
    detail: string,
  ) {
    super(
      `execution provider "${provider}" is not available: ${detail}. Available here: ${available.join(', ') || 'none'}. ` +
        (provider === 'cuda' ? CUDA_HOWTO : provider === 'webgpu' ? WEBGPU_HOWTO : 'Valid choices: cpu, cuda, webgpu.'),
    );
    this.name = 'ExecutionProviderUnavailableError';
  }
}

/** Throws ExecutionProviderUnavailableError unless `provider` can be used here. */
export function assertExecutionProvider(provider: string): asserts provider is ExecutionProviderName {
  const all = executionProviders();
  const available = all.filter((p) => p.available).map((p) => p.name);
  if (!['cpu', 'cuda', 'webgpu'].includes(provider)) {
    throw new ExecutionProviderUnavailableError(provider, available, 'juice supports cpu, cuda and webgpu');
  }
  const found = all.find((p) => p.name === provider);
  if (!found) throw new ExecutionProviderUnavailableError(provider, available, 'this onnxruntime-node build does not include it');
  if (!found.available) throw new ExecutionProviderUnavailableError(provider, available, found.reason ?? 'unknown reason');
}

/** Wraps an ORT session-creation failure on a GPU provider (driver missing, no device) with the same guidance. */
export function providerCreationError(provider: ExecutionProviderName, cause: unknown): Error {
  const msg = cause instanceof Error ? cause.message : String(cause);
  if (provider === 'cpu') return cause instanceof Error ? cause : new Error(msg);
  const err = new ExecutionProviderUnavailableError(provider, availableExecutionProviders(), `creating a session failed (${msg.split('\n')[0]})`);
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}
