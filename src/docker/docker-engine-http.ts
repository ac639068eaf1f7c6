import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The few Docker Engine API calls holdfast makes, over a local unix socket
 * with node:http. dockerode (the client for tcp:// and TLS daemons) loads
 * grpc-js, protobufjs and ssh2 at import: ~170 ms on a quiet machine and
 * about 1 s on a loaded one, paid by every command that touches Docker.
 * This class has the shape of the part of dockerode that docker-client.ts
 * uses, and errors carry `statusCode` as dockerode's do.
 */
export class EngineHttp {
  constructor(private readonly socketPath: string) {}

  ping(): Promise<unknown> {
    return this.json('GET', '/_ping');
  }

  info(): Promise<unknown> {
    return this.json('GET', '/info');
  }

  listContainers(options: { all?: boolean; filters?: string }): Promise<Array<{ Id: string }>> {
    return this.json('GET', `/containers/json${query({ all: options.all ? '1' : undefined, filters: options.filters })}`) as Promise<Array<{ Id: string }>>;
  }

  createVolume(spec: Record<string, unknown>): Promise<unknown> {
    return this.json('POST', '/volumes/create', spec);
  }

  getVolume(name: string) {
    const at = `/volumes/${encodeURIComponent(name)}`;
    return {
      inspect: () => this.json('GET', at) as Promise<{ Name: string; Driver: string; Mountpoint: string; Labels: Record<string, string> | null; Options: Record<string, string> | null }>,
      remove: () => this.json('DELETE', at),
    };
  }

  listVolumes(options: { filters?: string }): Promise<{ Volumes: Array<{ Name: string }> | null }> {
    return this.json('GET', `/volumes${query({ filters: options.filters })}`) as Promise<{ Volumes: Array<{ Name: string }> | null }>;
  }

  getImage(name: string) {
    return { inspect: () => this.json('GET', `/images/${imageRef(name)}/json`) };
  }

  getContainer(id: string) {
    const at = `/containers/${encodeURIComponent(id)}`;
    return {
      id,
      inspect: () => this.json('GET', `${at}/json`),
      stop: (o: { t: number }) => this.json('POST', `${at}/stop${query({ t: String(o.t) })}`),
      start: () => this.json('POST', `${at}/start`),
      pause: () => this.json('POST', `${at}/pause`),
      unpause: () => this.json('POST', `${at}/unpause`),
      kill: () => this.json('POST', `${at}/kill`),
      remove: (o: { force?: boolean; v?: boolean }) => this.json('DELETE', `${at}${query({ force: o.force ? '1' : undefined, v: o.v ? '1' : undefined })}`),
      wait: () => this.json('POST', `${at}/wait`),
      /** The log as Docker sends it: without a TTY, multiplexed frames. */
      logs: (o: { stdout?: boolean; stderr?: boolean; tail?: number; follow?: false }) =>
        this.bytes('GET', `${at}/logs${query({ stdout: o.stdout ? '1' : undefined, stderr: o.stderr ? '1' : undefined, tail: o.tail === undefined ? undefined : String(o.tail) })}`),
      attach: (o: { stdin?: boolean; [k: string]: unknown }) => this.upgrade(`${at}/attach${query({ stream: '1', stdout: '1', stderr: '1', stdin: o.stdin ? '1' : undefined })}`),
      exec: async (spec: Record<string, unknown>) => {
        const { Id } = (await this.json('POST', `${at}/exec`, spec)) as { Id: string };
        return {
          start: (_o: { stdin?: boolean; [k: string]: unknown }) => this.upgrade(`/exec/${Id}/start`, { Detach: false, Tty: false }),
          inspect: () => this.json('GET', `/exec/${Id}/json`) as Promise<{ Running: boolean; ExitCode: number | null }>,
        };
      },
    };
  }

  /** `name` goes in the query, as the Engine API wants it (the body has no such field). */
  async createContainer(spec: Record<string, unknown>) {
    const { name, ...body } = spec;
    const { Id } = (await this.json('POST', `/containers/create${query({ name: typeof name === 'string' ? name : undefined })}`, body)) as { Id: string };
    return this.getContainer(Id);
  }

  /** `POST /build` with a tar build context; resolves with the progress stream (JSON lines) once the daemon answers. */
  buildImage(context: NodeJS.ReadableStream, options: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, method: 'POST', path: `/build${query(options)}`, headers: { host: 'docker', 'content-type': 'application/x-tar' } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300) readAll(res).then((text) => reject(apiError(status, text)), reject);
        else resolve(res);
      });
      req.once('error', reject);
      context.pipe(req);
    });
  }

  /** One JSON call; a status of 300 or more rejects with Docker's message and `statusCode`. */
  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const { body: raw, type } = await this.call(method, path, body);
    const text = raw.toString('utf8');
    return text && /json/.test(type) ? JSON.parse(text) : text;
  }

  /** A call whose answer is bytes (a container's log). */
  private async bytes(method: string, path: string): Promise<Buffer> {
    return (await this.call(method, path)).body;
  }

  private call(method: string, path: string, body?: unknown): Promise<{ body: Buffer; type: string }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request({ socketPath: this.socketPath, method, path, headers: { host: 'docker', ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}) } }, (res) => {
        readAllBytes(res).then((bytes) => {
          const status = res.statusCode ?? 0;
          if (status >= 300) return reject(apiError(status, bytes.toString('utf8')));
          resolve({ body: bytes, type: res.headers['content-type'] ?? '' });
        }, reject);
      });
      req.once('error', reject);
      req.end(data);
    });
  }

  /** A hijacked stream (attach, exec start): the raw socket after Docker's 101 Switching Protocols. */
  private upgrade(path: string, body?: unknown): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const data = Buffer.from(body === undefined ? '' : JSON.stringify(body));
      const req = request({
        socketPath: this.socketPath,
        method: 'POST',
        path,
        headers: { host: 'docker', connection: 'Upgrade', upgrade: 'tcp', 'content-type': 'application/json', 'content-length': String(data.length) },
      });
      req.once('upgrade', (_res, socket, head) => {
        if (head.length > 0) socket.unshift(head);
        resolve(socket);
      });
      req.once('response', (res: IncomingMessage) => {
        // No upgrade: an error (404, 409 "container is not running"), or an old daemon that streams in the response.
        readAll(res).then((text) => reject(apiError(res.statusCode ?? 0, text)), reject);
      });
      req.once('error', reject);
      req.end(data);
    });
  }
}

function apiError(status: number, text: string): Error & { statusCode: number } {
  let message = text.trim();
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? message;
  } catch {
    // plain text
  }
  return Object.assign(new Error(message || `HTTP ${status}`), { statusCode: status });
}

async function readAllBytes(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readAll(res: IncomingMessage): Promise<string> {
  return (await readAllBytes(res)).toString('utf8');
}

function query(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Image references keep their `/` and `:` (the daemon's router takes them as they are, as dockerode sends them). */
function imageRef(name: string): string {
  return encodeURIComponent(name).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/g, '@');
}
