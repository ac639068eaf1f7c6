import { describe, expect, test } from 'vitest';
import { connectQdrant, httpFailure, qdrantError } from '../../drivers/qdrant/qdrant-connection.js';
import { parseEndpoint } from '../../src/core/service.js';

// Issue 16 point 6: Qdrant's own error text reaches the user, a key in the URL is refused.
const service = (url: string) => ({ name: 'vec', endpoint: parseEndpoint(url, false, 'vec'), options: {}, origin: 'flag' as const });

describe('qdrant connection', () => {
  test('a client error carries Qdrant\'s own text, not only the status line', () => {
    const node = connectQdrant(service('qdrant://127.0.0.1:6333'));
    const apiError = Object.assign(new Error('Internal Server Error'), { status: 500, data: { status: { error: 'Service internal error: File name too long (os error 36)' } } });
    const e = qdrantError(node, 'create a snapshot of docs', apiError);
    expect(e.message).toBe('Qdrant at http://127.0.0.1:6333: cannot create a snapshot of docs: HTTP 500 Service internal error: File name too long (os error 36)');
    expect(httpFailure(422, '{"status":{"error":"Validation error in path parameters"},"time":0}').message).toBe('HTTP 422 Validation error in path parameters');
    expect(httpFailure(502, 'Bad Gateway').message).toBe('HTTP 502 Bad Gateway');
  });

  test.each(['api_key', 'api-key', 'apiKey'])('?%s= in the URL is refused with the way to give the key', (param) => {
    expect(() => connectQdrant(service(`qdrant://127.0.0.1:6333/?${param}=s3cret`))).toThrow(/api key in the service URL/);
    try {
      connectQdrant(service(`qdrant://127.0.0.1:6333/?${param}=s3cret`));
    } catch (e) {
      expect((e as Error).message).not.toContain('s3cret');
      expect((e as { hint?: string }).hint).toMatch(/HOLDFAST_VEC_PASSWORD/);
    }
  });
});
