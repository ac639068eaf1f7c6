import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const CONTEXT = fileURLToPath(new URL('../../dist/src/cli/context.js', import.meta.url));

/**
 * The AWS SDK takes ~0.5 s to import: only a command on an s3:// repository
 * may load it. Checked in a fresh process on the built CLI (the SDK is
 * CommonJS, so what was loaded shows in require.cache).
 */
describe('the S3 backend is loaded lazily', () => {
  test('a local repository never loads the SDK; an s3:// one loads it on open and reports an unreachable server clearly', () => {
    const script = `
      import { createRequire } from 'node:module';
      const sdkLoaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@aws-sdk'));
      const { buildContext } = await import(${JSON.stringify(CONTEXT)});
      const flags = { json: false, quiet: true, verbose: false, service: [] };
      const signal = new AbortController().signal;
      const local = buildContext({ ...flags, repo: '/nonexistent/holdfast-repo' }, signal).repository();
      await local.open({ create: false }).catch(() => undefined);
      const s3 = buildContext({ ...flags, repo: 's3://lazy-bucket/app' }, signal).repository();
      const before = sdkLoaded();
      const error = await s3.open({ create: false }).then(() => undefined, (e) => e);
      console.log(JSON.stringify({ before, after: sdkLoaded(), location: s3.location, code: error?.code, message: error?.message }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: '/',
      env: {
        PATH: process.env.PATH,
        AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
        AWS_ACCESS_KEY_ID: 'lazykey',
        AWS_SECRET_ACCESS_KEY: 'lazysecret',
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    }).toString();
    const result = JSON.parse(out) as { before: boolean; after: boolean; location: string; code: string; message: string };
    expect(result).toMatchObject({ before: false, after: true, location: 's3://lazy-bucket/app', code: 'connect' });
    expect(result.message).toMatch(/cannot reach the S3 server at http:\/\/127\.0\.0\.1:1 while reading config\.json/);
  });
});
