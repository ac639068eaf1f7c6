/**
 * One contender of the lock race (lock-race.test.ts), a real process: it opens the repository given in
 * argv (a directory, encrypted or not, or s3://), prints "ready", then for every line
 * {"round":n,"at":epochMs} it tries the repository lock at that instant (no wait), holds it for
 * `holdMs` and releases it, and prints what happened as one JSON line. It runs the compiled product
 * (dist/), as the CLI does.
 */
import { createInterface } from 'node:readline';

const [kind, location, holdMs] = process.argv.slice(2);
const dist = new URL('../../dist/src/', import.meta.url);

async function openRepository() {
  if (kind === 's3') {
    const { S3Repository } = await import(new URL('repository/s3/s3-repository.js', dist).href);
    const { parseS3Location } = await import(new URL('repository/s3/s3-location.js', dist).href);
    return new S3Repository(location, parseS3Location(location));
  }
  const { DirRepository } = await import(new URL('repository/dir-repository.js', dist).href);
  const { repositorySecrets } = await import(new URL('cli/repository-secrets.js', dist).href);
  return new DirRepository(location, repositorySecrets(undefined, process.env, false));
}

const repo = await openRepository();
await repo.open({ create: false });
console.log(JSON.stringify({ ready: true }));

for await (const line of createInterface({ input: process.stdin })) {
  const { round, at } = JSON.parse(line);
  await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
  try {
    const lock = await repo.lock('backup');
    const from = Date.now();
    await new Promise((r) => setTimeout(r, Number(holdMs)));
    const to = Date.now();
    await lock.release();
    console.log(JSON.stringify({ round, held: [from, to], notes: lock.notes }));
  } catch (error) {
    console.log(JSON.stringify({ round, refused: String(error?.message ?? error) }));
  }
}
