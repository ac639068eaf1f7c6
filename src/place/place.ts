import type { Readable } from 'node:stream';
import type { ArtifactSink } from '../core/driver.js';
import type { ToolExit } from '../core/process.js';
import type { StreamRun } from '../docker/docker-api.js';
import type { ArtifactRecord } from '../repository/manifest.js';

/**
 * Where an engine's work runs (issue #14). A driver states its work once:
 * commands with argv and environment, streams in and out, TCP endpoints of
 * the engine. A place carries it out:
 *
 * - `host`: the tools on this machine, the URL's endpoint as it is;
 * - `container`: docker exec in the service's own container, whose tools
 *   match its server; stdout/stdin stream through the exec;
 * - `sidecar`: a short-lived helper container joined to the service
 *   container's network namespace: it reaches an API on the container's
 *   localhost, with no published port.
 *
 * Secrets travel in `env` only: never in argv, a manifest or a log.
 */
export type PlaceKind = 'host' | 'container' | 'sidecar';

export interface PlaceRunOptions {
  /** Variables for the command (secrets among them): the place passes them as environment, never argv. */
  env?: Record<string, string | undefined>;
  /** Open the command's stdin (StreamRun.stdin); end it to send EOF. */
  stdin?: boolean;
  /**
   * A command that reads no stdin (a dump): in a container, it is stopped when holdfast's exec goes (a kill -9),
   * by a watcher on the exec's stdin (container-pipe-sweep.ts WATCHED), instead of running on into a stream nobody
   * reads. Ignored by places whose commands go with holdfast anyway (this host).
   */
  watched?: boolean;
  signal?: AbortSignal;
  /** Values to blank out of stderr in errors. */
  secrets?: Array<string | undefined>;
}

/** A TCP endpoint this process can connect to, leading to the place's view of host:port. */
export interface Reached {
  host: string;
  port: number;
  /** Stops forwarding (a tunnel); a no-op for the host place. */
  close(): Promise<void>;
}

export interface Place {
  readonly kind: PlaceKind;
  /** One short phrase for plan, show and errors: "on this host", "inside container shop-db-1". */
  readonly where: string;
  /** The container the work runs in or beside, when any. */
  readonly containerName?: string;
  /** Runs one command where the place is; `done` carries the exit code and the tail of stderr. */
  run(argv: readonly string[], options?: PlaceRunOptions): Promise<StreamRun>;
  /**
   * Runs one command and stores its stdout as an artifact: counted only if it
   * exited 0 and wrote something (`judge` turns a failed exit into the error).
   */
  toArtifact(
    argv: readonly string[],
    sink: ArtifactSink,
    artifact: { name: string; kind: string; label?: string },
    options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
  ): Promise<ArtifactRecord>;
  /**
   * toArtifact in two steps, where the place can do part of the work before the tool starts (a container: the
   * exec and its pipe, 50-100 ms); undefined, with nothing started, where it cannot (then toArtifact). One of
   * go() and cancel() must follow.
   */
  stageArtifact?(
    argv: readonly string[],
    sink: ArtifactSink,
    artifact: { name: string; kind: string; label?: string },
    options: PlaceRunOptions & { judge: (exit: ToolExit) => void; allowEmpty?: boolean },
  ): Promise<StagedArtifact | undefined>;
  /** A local endpoint for host:port as the place sees it (the place's localhost is the container's). */
  reach(host: string, port: number, signal?: AbortSignal): Promise<Reached>;
  /** Releases what the place holds (a sidecar, tunnels). Idempotent. */
  close(): Promise<void>;
}

/** A tool's run made ready, not started (Place.stageArtifact). */
export interface StagedArtifact {
  /** The private directory of its pipe in the container (a tool may be told to keep its scratch there). */
  dir: string;
  /** Starts the tool, `extra` appended to its argv (plain words: no spaces), and stores what it writes as one artifact. */
  go(extra?: readonly string[]): Promise<ArtifactRecord>;
  /** Starts nothing, and releases what was made. */
  cancel(): Promise<void>;
}

/** Reads a command's whole stdout as text (for `--version` and small answers); the exit is the caller's to judge. */
export async function runText(place: Place, argv: readonly string[], options: PlaceRunOptions = {}): Promise<{ stdout: string; exitCode: number | null; stderr: string }> {
  const run = await place.run(argv, options);
  let stdout = '';
  run.stdout.setEncoding('utf8');
  run.stdout.on('data', (d: string) => (stdout += d));
  const exit = await run.done;
  return { stdout, ...exit };
}

/** Feeds a stream to a command's stdin; resolves with its exit. */
export async function runWithInput(place: Place, argv: readonly string[], input: Readable, options: PlaceRunOptions = {}): Promise<{ exitCode: number | null; stderr: string }> {
  const run = await place.run(argv, { ...options, stdin: true });
  run.stdout.resume();
  input.on('error', () => run.abort());
  input.pipe(run.stdin!);
  return run.done;
}
