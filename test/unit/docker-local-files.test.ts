import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DaemonInfo, DockerApi } from '../../src/docker/docker-api.js';
import { daemonFilesElsewhere } from '../../src/docker/docker-local-files.js';

const ID = 'c0ffee'.padEnd(64, '0');
const root = process.geteuid?.() === 0;

function daemon(info: Partial<DaemonInfo>, host = 'unix:///run/docker.sock'): DockerApi {
  return { host, daemonInfo: async () => ({ name: 'h', rootDir: '', securityOptions: ['name=seccomp,profile=default'], ...info }) } as unknown as DockerApi;
}

describe("is the Docker daemon's data root this machine's?", () => {
  let dataRoot: string;
  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'holdfast-dataroot-'));
    await mkdir(join(dataRoot, 'containers', ID), { recursive: true });
  });
  afterAll(async () => {
    await rm(dataRoot, { recursive: true, force: true });
  });

  test('a tcp:// daemon is on another machine, whatever else holds', async () => {
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot }, 'tcp://127.0.0.1:2375'), ID)).toBe('the daemon at tcp://127.0.0.1:2375 is on another machine');
  });

  test.runIf(root)("the container's own directory under the reported data root: here", async () => {
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot }), ID)).toBeUndefined();
  });

  test.runIf(root)('a data root without that container (a forwarded socket, a VM, another daemon): elsewhere', async () => {
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot }), 'f'.repeat(64))).toBe(`the daemon's data root ${dataRoot} is not this machine's`);
    expect(await daemonFilesElsewhere(daemon({ rootDir: join(dataRoot, 'nowhere') }), ID)).toContain('is not this machine');
  });

  test.runIf(root)('user namespace remapping or a rootless daemon: the owners on disk are not the containers\', so no', async () => {
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot, securityOptions: ['name=seccomp,profile=default', 'name=userns'] }), ID)).toBe('the daemon remaps user ids (name=userns)');
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot, securityOptions: ['name=rootless'] }), ID)).toBe('the daemon remaps user ids (name=rootless)');
  });

  test.runIf(root)('no data root reported: elsewhere; no container to look for: the caller decides', async () => {
    expect(await daemonFilesElsewhere(daemon({ rootDir: '' }), ID)).toBe('the daemon did not report its data root');
    expect(await daemonFilesElsewhere(daemon({ rootDir: dataRoot }), undefined)).toBeUndefined();
  });
});
