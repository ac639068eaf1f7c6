import type { Leftover } from './leftover-journal.js';
import type { Readable } from 'node:stream';
import type { Endpoint, Service } from './service.js';
import type { ArtifactRecord } from '../repository/manifest.js';
import type { ToolExit } from './process.js';

/**
 * The driver contract: a plugin for one engine. The planner and executor
 * never test an engine's name; they read what a driver offers.
 *
 * A driver module exports one object implementing Driver. Its methods may
 * throw HoldfastError (the executor adds the service name when missing).
 */
export interface Driver {
  /** Engine id, as written in manifests and `holdfast.engine` labels. */
  readonly engine: string;
  /** Human name for tables and messages. */
  readonly title: string;
  /** URL schemes this driver answers to (`postgres`, `postgresql`). */
  readonly schemes: readonly string[];

  /** Does this candidate belong to my engine? Undefined when not. */
  detect(candidate: Candidate): Detection | undefined;
  /** The methods offered for this service, strongest first, with their requirements checked. */
  strategies(service: Service, signal?: AbortSignal): Promise<StrategyOffer[]>;
  /** Version, databases / collections / indices, sizes. */
  inspect(service: Service): Promise<Inspection>;
  /** Counts and content checksums, compared after a restore. */
  fingerprint(service: Service, scope: FingerprintScope): Promise<Fingerprint>;
  /** Streams artifacts into the repository through ctx.artifacts. */
  backup(ctx: BackupContext): Promise<BackupResult>;
  /** Restores artifacts of one service into a target (the same service or another place). */
  restore(ctx: RestoreContext): Promise<RestoreResult>;
  /**
   * Optional: waits until the server of a container that holdfast has just
   * started for a restore (`restore --recreate`) accepts work, and fails
   * clearly when the container stopped instead. Drivers without it restore
   * files and need no running server.
   */
  waitReady?(service: Service, signal: AbortSignal): Promise<void>;
  /**
   * Optional: where a restore test (`verify --restore-test`, `backup --verify`)
   * may restore this service's snapshot without touching the source. Returns
   * the scratch target, or undefined when the strategy has none (the test
   * then fails with "no restore test for <engine>/<strategy>": never a silent
   * pass). A driver without this method gets the same verdict. If it throws,
   * it has removed what it created itself.
   */
  scratchTarget?(ctx: ScratchContext): Promise<ScratchTarget | undefined>;
  /**
   * Optional: removes a leftover that a restore or restore test of a run
   * that died wrote to the leftover journal (leftover-journal.ts) on this
   * service's server, e.g. `{ kind: 'swap', name: 'app__holdfast' }`.
   * Called only for journals of dead runs, by the next command that touches
   * the service. Returns what it did, for the user ("dropped the working
   * copy"), or false for a kind it does not know.
   */
  removeLeftover?(service: Service, leftover: Leftover): Promise<string | false>;

  /**
   * Optional: what restoring into `target` needs from the account holdfast
   * connects as (create databases, own the target, superuser for roles),
   * checked without changing anything, each need with the statement that
   * meets it: for `plan`, `restore --dry-run` and the restore test's notice of
   * its scratch place. Example: `{ need: 'create database app (role app
   * needs CREATEDB)', met: false, fix: 'ALTER ROLE "app" CREATEDB;' }`.
   */
  restoreNeeds?(ctx: RestoreNeedsContext): Promise<RestoreNeed[]>;
  /**
   * Optional: the part of a restore that needs neither the target nor its
   * server stopped (tools on this host checked), done first, for a caller
   * that must stop the target before restoring (`holdfast rollback`: called
   * before any container is stopped, so that a missing tool fails with
   * nothing stopped or changed). Returns undefined when nothing is staged
   * (restore() then does it all), else the staged restore: its restore()
   * replaces the driver's, and discard() removes what staging made. If it
   * throws, it has removed what it created itself.
   */
  stageRestore?(ctx: RestoreContext): Promise<StagedRestore | undefined>;
}

/** A restore begun by Driver.stageRestore. */
export interface StagedRestore {
  restore(ctx: RestoreContext): Promise<RestoreResult>;
  /** Removes what staging made (scratch files). Idempotent; must not use the aborted signal. */
  discard(): Promise<void>;
}

/** What a restore would be asked to do, for Driver.restoreNeeds. */
export interface RestoreNeedsContext {
  target: Service;
  strategy: string;
  inPlace: boolean;
  force: boolean;
  /** Restore options as the restore would get them (`database`, `rename`, `globals`). */
  options: Record<string, unknown>;
  /** What the backup recorded; absent for `plan`, which asks about the live service restored in place. */
  recorded?: BackupResult;
}

/** One thing a restore needs from the account it runs as, and whether it has it. */
export interface RestoreNeed {
  need: string;
  met: boolean;
  /** The statement (or step) that meets it, naming the account. */
  fix?: string;
}

/**
 * What a driver gets to set up a scratch target. Everything it creates must
 * carry `prefix` in its name (or a `holdfast.scratch` label with `run`), so
 * that leftovers of a killed run are recognisable (`holdfast_scratch_...`).
 */
export interface ScratchContext {
  /** The service as configured now (endpoint, credentials), as for an in-place restore. */
  source: Service;
  strategy: string;
  /** What the backup recorded for this service. */
  recorded: BackupResult;
  /** `holdfast_scratch_<run>_`: lower case letters, digits and `_`, valid in every engine's names. */
  prefix: string;
  /** The run id inside the prefix, for labels. */
  run: string;
  signal: AbortSignal;
}

/**
 * A place to restore into for a test, and how to remove it. The executor
 * restores with `restore({ target, options, inPlace: false, force: false })`,
 * compares the returned fingerprint with the recorded one, then always calls
 * cleanup: after success, failure, a mismatch and on SIGINT/SIGTERM.
 *
 * Example (a database server): target = the source server, options =
 * `{ rename: { app: 'holdfast_scratch_k3x9_app' }, globals: false }`,
 * cleanup = drop every database whose name starts with the prefix.
 */
export interface ScratchTarget {
  target: Service;
  /** Restore options; `rename` (see RestoreOptions) is how most drivers avoid the source's names. */
  options: Record<string, unknown>;
  /** Where the data goes, for messages (no credentials). */
  describe: string;
  /**
   * For restores that leave files, not a running engine (a physical copy):
   * starts what reads them (a throwaway server) and fingerprints the copy as
   * the backup did. Used when the restore returns no fingerprint; whatever it
   * starts, cleanup stops.
   */
  fingerprint?(result: RestoreResult, signal: AbortSignal): Promise<Fingerprint>;
  /**
   * Definition paths (prefixes) that what `fingerprint` starts cannot show
   * (a throwaway MariaDB without its grant tables lists no events): they are
   * left out of the comparison, and the restore test says so. Never rows.
   */
  unseen?: readonly string[];
  /** Removes everything the target and the restore into it created. Idempotent; must not use the aborted signal. */
  cleanup(): Promise<void>;
}

/** What detection looks at: any of these may be missing. */
export interface Candidate {
  endpoint?: Endpoint;
  /** An explicit engine name (config `engine:` or the `holdfast.engine` label). */
  engine?: string;
  image?: string;
  /** Names of environment variables (never their values). */
  envNames?: readonly string[];
  /** Top-level entries of a data volume. */
  volumeEntries?: readonly string[];
}

export interface Detection {
  engine: string;
  /** What gave it away, for `discover` and `plan`. */
  signal: string;
  /** 100 label/config, 80 URL scheme, 60 image, 40 environment, 20 volume contents. */
  strength: number;
}

export type Consistency =
  | 'transactional'
  | 'engine-snapshot'
  | 'quiesced'
  | 'crash-consistent'
  | 'inconsistent';

export interface Requirement {
  /** What is needed, e.g. `pg_dump >= server major (15)`. */
  what: string;
  met: boolean;
  /** What was found. */
  detail?: string;
  /** What to do when it is not met. */
  hint?: string;
}

export interface StrategyOffer {
  name: string;
  consistency: Consistency;
  summary: string;
  requirements: Requirement[];
  /** Can its artifacts be restored into a newer server version? */
  restoresIntoNewer: boolean;
  /**
   * Copies the engine's files (its data directory or volumes) rather than a
   * logical export: what `backup --physical` (and `--tag pre-upgrade`) adds
   * beside a logical backup, for a rollback that puts the files back.
   */
  physical?: boolean;
  /**
   * Where its work runs and why (src/place/service-place.ts), for plan and
   * show: `{ kind: 'sidecar', where: 'in a sidecar joined to container
   * shop-qdrant-1', reason: 'port 6333 is not published' }`.
   */
  place?: OfferPlace;
}

export interface OfferPlace {
  kind: 'host' | 'container' | 'sidecar';
  where: string;
  reason: string;
}

export interface Inspection {
  version: string;
  /** Databases, collections, indices...: whatever the engine calls its top-level objects. */
  objects: Array<{ name: string; kind: string; bytes?: number }>;
  details: Record<string, unknown>;
}

export type FingerprintScope = 'full' | 'counts';

export interface Fingerprint {
  scope: FingerprintScope;
  /** Keyed by a stable object path, e.g. `app.public.accounts`. */
  items: Record<string, { count: number; checksum?: string }>;
  /**
   * The definitions half: what a DBA would check by hand, per object path
   * (`app` for a database, `app.public.accounts` for a table), property name
   * to a normalized value, e.g. `{ app: { owner: 'shop', acl: '{=Tc/shop}' } }`.
   * Taken at backup inside the same snapshot as the rows, read again after a
   * restore, and compared property by property (src/core/fingerprint.ts).
   * Keys stay the recorded names when a restore renames, like `items`.
   */
  definitions?: Record<string, Record<string, string>>;
}

/** A command to run: argument array, environment (secrets go here, never in args). */
export interface CommandSpec {
  command: string;
  args: readonly string[];
  env?: Record<string, string | undefined>;
  /** Values to blank out of its stderr in messages. */
  secrets?: Array<string | undefined>;
  /**
   * An open file descriptor the command reads as its stdin (a pipe out of a container: src/place/container-pipe.ts).
   * `cat` with no arguments of such a descriptor only copies it: a sink may read the descriptor itself instead.
   */
  stdinFd?: number;
  /**
   * Told as soon as the command exits, before its output is stored
   * (compressed, hashed, flushed): a volume copy resumes the writers then.
   */
  exited?: (exit: ToolExit) => void;
}

/** Where a driver's backup writes. */
export interface ArtifactSink {
  /**
   * Stores one stream as a named artifact (compressed and checksummed by the
   * repository). Resolves once it is written; rejects if the source errors.
   * `name` is a plain file name the driver chooses; `label` is what it holds
   * (a database name may contain any character, so it goes here).
   */
  write(name: string, source: Readable, meta: { kind: string; label?: string }): Promise<ArtifactRecord>;
  /**
   * Runs a command and stores its stdout as an artifact, the command's stdout
   * wired straight into the compressor (no copy through Node). Resolves with
   * the record and the command's exit status, which the caller judges: a
   * failed command's artifact must not be kept (the executor drops it when
   * the caller throws).
   */
  writeCommand(name: string, command: CommandSpec, meta: { kind: string; label?: string }): Promise<{ record: ArtifactRecord; exit: ToolExit }>;
  /** Drops an artifact written in this run (its command failed, a retry follows). */
  discard(name: string): Promise<void>;
}

/** Reads artifacts back, verified against their manifest checksum. */
export interface ArtifactSource {
  readonly records: readonly ArtifactRecord[];
  /** The decompressed content; the stream errors if the stored bytes do not match their sha256. */
  open(name: string): Readable;
  /**
   * Decompresses an artifact into a command's stdin, without a copy through
   * Node; resolves with the command's exit. Checksums are verified before a
   * restore starts (the executor does), and zstd checks its frame checksums.
   */
  pipeToCommand(name: string, command: CommandSpec & { stdout?: 'ignore' | 'pipe' }): Promise<ToolExit>;
  /** Decompresses an artifact into a file, for tools that need a seekable file. */
  extractToFile(name: string, path: string): Promise<void>;
}

export interface ProgressSink {
  /**
   * Raw (uncompressed) bytes moved so far, for the progress line: read from
   * the engine at backup, decompressed from the artifacts at restore.
   */
  add(bytes: number): void;
  /** A short phase name: `dump app`, `fingerprint`, ... */
  phase(text: string): void;
  /** How far the current phase is, shown after its name on a terminal (`120 MiB of 372 MiB stored`); never logged. */
  detail?(text: string): void;
  /** Stored (compressed) bytes written to the repository, shown beside the raw ones. */
  stored?(bytes: number): void;
  /**
   * The raw bytes this service's work should reach, for a percentage and an
   * ETA: exact at restore (the manifest's sizes), an estimate at backup (the
   * engine's own size of the data), which the line marks with `~`.
   */
  expect?(bytes: number, estimate?: boolean): void;
}

/** The byte counters of a ProgressSink, as artifact writers and readers feed them. */
export type ByteProgress = Pick<ProgressSink, 'add' | 'stored'>;

export interface RunContext {
  signal: AbortSignal;
  progress: ProgressSink;
  /** Warnings and notes that end up in the result and the manifest. */
  note(text: string): void;
}

export interface BackupContext extends RunContext {
  service: Service;
  strategy: string;
  artifacts: ArtifactSink;
  fingerprintScope: FingerprintScope | 'none';
}

export interface BackupResult {
  /** Engine version and anything needed to restore or judge the backup (LSN, binlog position). */
  details: Record<string, unknown>;
  fingerprint?: Fingerprint;
  inspection?: Inspection;
}

export interface RestoreContext extends RunContext {
  /** The service as it was backed up (its name, engine and options; endpoint may be gone). */
  source: Service;
  /** Where to restore: the source itself or another place (`--target`). */
  target: Service;
  /** Whether the target is the original place of the data. */
  inPlace: boolean;
  strategy: string;
  artifacts: ArtifactSource;
  /** What the backup recorded (details, fingerprint) for this service. */
  recorded: BackupResult;
  force: boolean;
  /**
   * Restore options from the command line, or from a scratch target. Known
   * keys: `database` (restore one database), `jobs`, `globals` (false: no
   * roles / accounts), `rename`: a map from a recorded object's name
   * (database, Qdrant collection or volume source) to the name it is
   * restored under, objects not in it keeping the usual mapping; OpenSearch
   * takes `rename_pattern` / `rename_replacement` and `aliases` (false: leave
   * the snapshot's aliases out). Fingerprints stay keyed by the recorded names.
   */
  options: Record<string, unknown>;
}

/** The `rename` restore option, checked: recorded name -> restored name. */
export function renameOption(options: Record<string, unknown>): Record<string, string> | undefined {
  const value = options.rename;
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Object.values(value).some((v) => typeof v !== 'string')) {
    throw new Error('the restore option `rename` must map names to names');
  }
  return value as Record<string, string>;
}

export interface RestoreResult {
  /** Where the data went, for messages (no credentials). */
  location: string;
  fingerprint?: Fingerprint;
  details: Record<string, unknown>;
}
