/** Request and response plumbing of the FAKE Qdrant (test/servers/qdrant-fake.ts): JSON, raw bodies, one multipart field. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function send(res: ServerResponse, code: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': String(data.length) });
  res.end(data);
}

export async function raw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function json(req: IncomingMessage): Promise<any> {
  const data = await raw(req);
  return data.length ? JSON.parse(data.toString('utf8')) : {};
}

/** One named field of a multipart/form-data body, with its file name (the fake buffers; it is a test server). */
export function multipartField(body: Buffer, boundary: string, field: string): { data: Buffer; filename?: string } | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const headerStart = at + delimiter.length + 2;
    const headerEnd = body.indexOf('\r\n\r\n', headerStart);
    if (headerEnd < 0) return undefined;
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headerEnd);
    if (next < 0) return undefined;
    const headers = body.subarray(headerStart, headerEnd).toString('utf8');
    if (new RegExp(`name="${field}"`).test(headers)) {
      const filename = /filename="([^"]*)"/.exec(headers)?.[1];
      return { data: body.subarray(headerEnd + 4, next), ...(filename !== undefined ? { filename } : {}) };
    }
    at = next + 2;
  }
  return undefined;
}
