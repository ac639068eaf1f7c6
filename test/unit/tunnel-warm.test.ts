import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import type { StreamExit, StreamRun } from '../../src/docker/docker-api.js';
import { openTunnel, type ExecIn } from '../../src/place/sidecar-tunnel.js';

/** A forwarder that greets first (as MariaDB's server does) and echoes what it is sent; counts execs and aborts. */
function fakeExec() {
  const seen = { execs: 0, aborted: 0 };
  const exec: ExecIn = async () => {
    seen.execs++;
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    let end!: (e: StreamExit) => void;
    const done = new Promise<StreamExit>((resolve) => (end = resolve));
    stdout.write('greeting\n');
    stdin.on('data', (d: Buffer) => stdout.write(d));
    stdin.on('end', () => {
      stdout.end();
      end({ exitCode: 0, stderr: '' });
    });
    return {
      stdout,
      stdin,
      done,
      abort: () => {
        seen.aborted++;
        stdout.end();
        end({ exitCode: null, stderr: '' });
      },
    } satisfies StreamRun;
  };
  return { exec, seen };
}

/** Connects, reads the greeting, sends one line and reads it back. */
function talk(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (d) => {
      got += d.toString();
      if (got === 'greeting\n') socket.write('hello\n');
      if (got === 'greeting\nhello\n') {
        socket.end();
        resolve(got);
      }
    });
    socket.on('error', reject);
  });
}

describe('a warm tunnel: the first forwarder starts with the tunnel, not when the client connects', () => {
  test('the forwarder exists before any client; the first client gets it (what it said meanwhile kept), the next a new one', async () => {
    const { exec, seen } = fakeExec();
    const tunnel = await openTunnel(exec, '127.0.0.1', 3306, { service: 'db', where: 'container x', warm: true });
    // Before: no exec until a client connected.
    expect(seen.execs).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await talk(tunnel.port)).toBe('greeting\nhello\n');
    expect(seen.execs).toBe(1);
    expect(await talk(tunnel.port)).toBe('greeting\nhello\n');
    expect(seen.execs).toBe(2);
    await tunnel.close();
  });

  test('a warm forwarder no client took is stopped with the tunnel', async () => {
    const { exec, seen } = fakeExec();
    const tunnel = await openTunnel(exec, '127.0.0.1', 3306, { service: 'db', where: 'container x', warm: true });
    await tunnel.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual({ execs: 1, aborted: 1 });
  });

  test('without warm, nothing runs until a client connects', async () => {
    const { exec, seen } = fakeExec();
    const tunnel = await openTunnel(exec, '127.0.0.1', 3306, { service: 'db', where: 'container x' });
    expect(seen.execs).toBe(0);
    expect(await talk(tunnel.port)).toBe('greeting\nhello\n');
    expect(seen.execs).toBe(1);
    await tunnel.close();
  });
});
