import { startS3 } from '../servers/s3.js';
import { repositorySuite } from './repository-suite.js';

repositorySuite('S3 (versitygw)', async () => {
  const s3 = await startS3();
  await s3.createBucket('suite');
  return {
    repo: 's3://suite/holdfast',
    env: s3.env,
    leftovers: async () => {
      const keys = await s3.keys('suite', 'holdfast/');
      const committed = new Set(keys.filter((k) => k.endsWith('/manifest.json')).map((k) => k.split('/')[2]));
      const orphans = keys.filter((k) => k.startsWith('holdfast/staging/') || (k.startsWith('holdfast/snapshots/') && !committed.has(k.split('/')[2])));
      return [...orphans, ...(await s3.uploads('suite', 'holdfast/')).map((u) => `multipart upload ${u}`)];
    },
    cleanup: () => s3.stop(),
  };
});
