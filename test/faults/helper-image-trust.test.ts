/**
 * Fault suite: the image that runs tar as root in a restore is never taken
 * from a manifest alone (it is untrusted input): not from the recorded tar
 * flavor, not from the recorded service options. A fake Docker daemon that
 * has every image answers the tar probe.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { restoreTarFlavor } from '../../drivers/volume/volume-restore.js';
import { sourceService } from '../../src/core/restore-executor.js';
import type { DockerApi, RunSpec } from '../../src/docker/docker-api.js';
import { DEFAULT_HELPER_IMAGE } from '../../src/docker/docker-helper.js';
import { serviceRecord } from '../unit/helpers/temp-repo.js';

/** A daemon with every image, each one's tar GNU tar; it remembers which images ran. */
function fakeDaemon(ran: string[]): DockerApi {
  const api: Partial<DockerApi> = {
    host: `unix:///fake-${Math.random()}`,
    imagePresent: async () => true,
    imageId: async () => undefined,
    run: async (spec: RunSpec) => {
      ran.push(spec.image);
      const stdout = Readable.from([Buffer.from('tar (GNU tar) 1.34\n---\n--xattrs --acls --sparse --numeric-owner\n')]);
      // Like a real run: it settles once its output has been read.
      const done = once(stdout, 'end').then(() => ({ exitCode: 0, stderr: '' }));
      return { stdout, done, abort: () => undefined };
    },
  };
  return api as DockerApi;
}

const EVIL = { image: 'evil/tar-as-root:1', kind: 'gnu' as const, version: 'tar (GNU tar) 1.34', features: ['xattrs', 'acls', 'sparse', 'numeric-owner'] };

describe('the helper image a manifest names', () => {
  const saved = { image: process.env.HOLDFAST_HELPER_IMAGE, state: process.env.HOLDFAST_STATE_DIR };
  let state: string;
  beforeEach(async () => {
    delete process.env.HOLDFAST_HELPER_IMAGE;
    state = await mkdtemp(join(tmpdir(), 'holdfast-faults-image-'));
    process.env.HOLDFAST_STATE_DIR = state;
  });
  afterEach(async () => {
    for (const [key, value] of [['HOLDFAST_HELPER_IMAGE', saved.image], ['HOLDFAST_STATE_DIR', saved.state]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(state, { recursive: true, force: true });
  });

  test('is not run without --force (the default is, and the note says so); with --force it is, named', async () => {
    const ran: string[] = [];
    const notes: string[] = [];
    const flavor = await restoreTarFlavor(fakeDaemon(ran), EVIL, undefined, 'v', { note: (t) => notes.push(t) });
    expect(flavor.image).toBe(DEFAULT_HELPER_IMAGE);
    expect(ran).not.toContain(EVIL.image);
    expect(notes.join('\n')).toContain(`the snapshot names the helper image ${EVIL.image}; extracting with ${DEFAULT_HELPER_IMAGE} instead`);

    const forcedNotes: string[] = [];
    const forced = await restoreTarFlavor(fakeDaemon([]), EVIL, undefined, 'v', { force: true, note: (t) => forcedNotes.push(t) });
    expect(forced.image).toBe(EVIL.image);
    expect(forcedNotes).toEqual([`extracting with the helper image ${EVIL.image}, which the snapshot names (--force)`]);
    // The image the user chose wins over the manifest's, --force or not.
    expect((await restoreTarFlavor(fakeDaemon([]), EVIL, 'mine/tar:2', 'v', { force: true })).image).toBe('mine/tar:2');
  });

  test("a manifest's service options never carry helper_image into a restore; the config's do", () => {
    const record = serviceRecord({ options: { helper_image: EVIL.image, databases: ['app'] } });
    expect(sourceService('v', record, undefined).options).toEqual({ databases: ['app'] });
    const configured = { name: 'v', options: { helper_image: 'mine/tar:2' }, origin: 'config' as const };
    expect(sourceService('v', record, configured).options).toEqual({ databases: ['app'], helper_image: 'mine/tar:2' });
  });
});
