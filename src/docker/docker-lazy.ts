import type { DockerApi } from './docker-api.js';

/**
 * The Docker API, loaded on first use: dockerode takes ~170 ms to import,
 * which every holdfast command would pay otherwise (most never touch Docker).
 */
export async function dockerApi(host?: string): Promise<DockerApi> {
  const { connectDocker } = await import('./docker-client.js');
  return connectDocker(host);
}
