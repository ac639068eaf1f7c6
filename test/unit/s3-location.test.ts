import { describe, expect, test } from 'vitest';
import { HoldfastError } from '../../src/core/errors.js';
import { isS3Location, parseS3Location } from '../../src/repository/s3/s3-location.js';

describe('s3:// repository locations', () => {
  test('bucket and prefix, with or without slashes', () => {
    expect(parseS3Location('s3://backups', {})).toMatchObject({ bucket: 'backups', prefix: '' });
    expect(parseS3Location('s3://backups/', {})).toMatchObject({ bucket: 'backups', prefix: '' });
    expect(parseS3Location('s3://backups/app/prod/', {})).toMatchObject({ bucket: 'backups', prefix: 'app/prod/' });
    expect(parseS3Location('s3://backups//app//x', {})).toMatchObject({ prefix: 'app/x/' });
  });

  test('AWS itself: virtual-hosted addressing, region from the environment or the profile', () => {
    expect(parseS3Location('s3://backups/app', { AWS_REGION: 'eu-west-1' })).toEqual({
      bucket: 'backups',
      prefix: 'app/',
      endpoint: undefined,
      region: 'eu-west-1',
      forcePathStyle: false,
      server: 'AWS S3',
    });
    expect(parseS3Location('s3://backups', { AWS_DEFAULT_REGION: 'us-west-2' }).region).toBe('us-west-2');
    expect(parseS3Location('s3://backups', {}).region).toBeUndefined();
  });

  test('a custom endpoint: the S3-specific variable wins, path-style addressing, us-east-1 by default', () => {
    const where = parseS3Location('s3://backups', { AWS_ENDPOINT_URL: 'http://10.0.0.1:1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' });
    expect(where).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, region: 'us-east-1', server: 'the S3 server at http://127.0.0.1:9000' });
    expect(parseS3Location('s3://backups', { AWS_ENDPOINT_URL: 'https://s3.example.test' }).endpoint).toBe('https://s3.example.test');
    expect(parseS3Location('s3://backups', { AWS_ENDPOINT_URL: 'https://s3.example.test', HOLDFAST_S3_PATH_STYLE: '0' }).forcePathStyle).toBe(false);
  });

  test('bad locations and endpoints are configuration errors that say how to write them', () => {
    for (const bad of ['s3://', 's3://Bad_Bucket', 's3://ab', 's3://bucket/../x', 's3://bucket/a?x=1']) {
      expect(() => parseS3Location(bad, {}), bad).toThrow(HoldfastError);
    }
    try {
      parseS3Location('s3://ok-bucket', { AWS_ENDPOINT_URL_S3: '127.0.0.1:9000' });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'config', hint: expect.stringContaining('AWS_ENDPOINT_URL_S3') });
    }
  });

  test('only s3:// selects the backend', () => {
    expect(isS3Location('s3://b')).toBe(true);
    expect(isS3Location('S3://b')).toBe(true);
    expect(isS3Location('/var/backups/s3://x')).toBe(false);
    expect(isS3Location('./s3')).toBe(false);
  });
});
