import type { ArtifactSink, ArtifactSource, OfferPlace } from '../../src/core/driver.js';
import { hostPlaceRecord } from '../../src/core/place-record.js';
import { HoldfastError } from '../../src/core/errors.js';
import type { ToolExit } from '../../src/core/process.js';
import { toolToArtifact } from '../../src/core/tool-artifact.js';
import { runText, runWithInput } from '../../src/place/place.js';
import type { ArtifactRecord } from '../../src/repository/manifest.js';
import type { MyTarget } from './mysql-connection.js';
import { stageDump } from './mysql-container-fifo.js';
import type { DefaultsFiles } from './mysql-defaults-file.js';
import { checkTool, FAMILY_TITLE, parseToolVersion, toolNames, TOOLS_HINT, type Family, type ToolCheck, type ToolInfo, type ToolRole } from './mysql-tools.js';

/**
 * Where a MySQL / MariaDB tool runs, chosen in one place (`placeTool`), with
 * the reason the plan shows:
 * - a server reached by URL: the tool on this host;
 * - a server in a container: the image's own tool through docker exec
 *   (where "inside container shop-db-1", reason "its image has mariadb-dump 10.11.19"),
 *   since it matches the server; when the image has none of the family,
 *   this host's tool through the tunnel to the container, and the plan says
 *   which tool the image lacks.
 * Then `prepareRun` runs it there: stdout into an artifact, or an artifact
 * into its stdin.
 */
export interface PlacedTool extends ToolCheck {
  /** Where it runs and why, for the plan (StrategyOffer.place) and the manifest (details.place). */
  place: OfferPlace;
}

export async function placeTool(t: MyTarget, role: ToolRole, family: Family): Promise<PlacedTool> {
  if (!t.container) {
    const check = await checkTool(role, family);
    return { ...check, place: hostPlaceRecord(check.tool ? `${check.tool.name} ${check.tool.version} (${check.tool.path})` : 'reached by its URL') };
  }
  const c = t.container;
  const pin = c.pin;
  const inContainer = (reason: string): OfferPlace => ({ kind: 'container', where: `inside container ${c.name}`, reason });
  const inside = pin?.kind === 'host' || pin?.kind === 'sidecar' ? undefined : await containerTool(t, role, family);
  if (inside && inside.family === family) return { tool: inside, place: inContainer(pin ? pin.by : `its image has ${inside.name} ${inside.version}`) };
  const lacks = pin && pin.kind !== 'container'
    ? pin.by
    : inside
      ? `its ${inside.name} is ${FAMILY_TITLE[inside.family]}'s and the server ${FAMILY_TITLE[family]}`
      : `its image has no ${toolNames(role, family)}`;
  if (pin?.kind === 'container') return { problem: `${lacks} (container ${c.name}), and the place is ${pin.by}`, place: inContainer(lacks) };
  const host = await checkTool(role, family);
  if (host.problem || !host.tool) {
    return { problem: `${lacks} (container ${c.name}), and on this host: ${host.problem ?? 'not found'}`, place: inContainer(lacks) };
  }
  // This host's tool, through the tunnel to the server (the container's own forwarder, or a sidecar).
  return { tool: host.tool, place: { kind: 'host', where: `on this host through a tunnel to container ${c.name}`, reason: `${lacks}, so ${host.tool.path} ${host.tool.version} runs ${pin ? 'there' : 'instead'}` } };
}

/** The tool where it runs, and that place for the manifest; a 'tool' error when it cannot run. */
export async function requirePlacedTool(t: MyTarget, role: ToolRole, family: Family): Promise<ToolInfo & { place: OfferPlace }> {
  const placed = await placeTool(t, role, family);
  if (placed.problem || !placed.tool) throw new HoldfastError('tool', placed.problem ?? `${toolNames(role, family)} not found`, { service: t.service, driver: 'mysql', hint: TOOLS_HINT[family] });
  return { ...placed.tool, place: placed.place };
}

/** The first of the role's candidates that the image has and that answered --version (probed when the container was opened). */
export async function containerTool(t: MyTarget, role: ToolRole, family: Family): Promise<ToolInfo | undefined> {
  const c = t.container!;
  for (const name of toolNames(role, family).split(' or ')) {
    if (!c.tools.has(name)) {
      const out = await runText(c.place, [name, '--version'], { env: { HOLDFAST_MY_MODE: 'plain' } }).catch(() => undefined);
      const info = out?.exitCode === 0 ? parseToolVersion(name, `${out.stdout}\n${out.stderr}`) : undefined;
      c.tools.set(name, info ? { ...info, inContainer: true } : undefined);
    }
    const found = c.tools.get(name);
    if (found) return found;
  }
  return undefined;
}

/** One run of a tool: its marker (the host option file, found in /proc by the hold) and how to run it. */
export interface ToolRunPlan {
  /** The host option file's path in the tool's argv; undefined inside a container (the hold then goes by connection order). */
  marker: string | undefined;
  toArtifact(sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, args: readonly string[], judge: (exit: ToolExit) => void): Promise<ArtifactRecord>;
  /**
   * As toArtifact, in two steps: what can be done before the tool starts is done now (in a container, the exec
   * and its pipe: 50-100 ms kept out of a commit hold), and start() starts it. One of start() and cancel() must follow.
   */
  stage(sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, args: readonly string[], judge: (exit: ToolExit) => void): Promise<StagedRun>;
  /** The artifact decompressed into the tool's stdin; resolves with its exit. */
  load(artifacts: ArtifactSource, name: string, args: readonly string[]): Promise<ToolExit>;
}

export interface StagedRun {
  start(): Promise<ArtifactRecord>;
  cancel(): Promise<void>;
}

export async function prepareRun(t: MyTarget, tool: ToolInfo, files: DefaultsFiles, label: string): Promise<ToolRunPlan> {
  if (tool.inContainer && t.container) {
    const c = t.container;
    const place = c.place;
    // stdin kept open and never written: the wrapper's watcher stops the dump when it ends (a kill -9 of holdfast).
    const throughExec = (sink: ArtifactSink, artifact: { name: string; kind: string; label?: string }, args: readonly string[], judge: (exit: ToolExit) => void) => {
      c.output = 'exec';
      return place.toArtifact([tool.path, ...args], sink, artifact, { judge, stdin: true, env: { HOLDFAST_MY_WATCH: '1' } });
    };
    // A dump leaves through a pipe this host reads when it sees the container's files, made by the dump's own exec;
    // else the exec's own stream. A load always goes in through the exec's stdin (nothing is written through the container's root).
    const stage: ToolRunPlan['stage'] = async (sink, artifact, args, judge) => {
      const staged = await stageDump(c, [tool.path, ...args], sink, artifact, judge);
      if (!staged) return { start: () => throughExec(sink, artifact, args, judge), cancel: async () => undefined };
      return {
        start: () => {
          c.output = 'pipe';
          return staged.go();
        },
        cancel: () => staged.cancel(),
      };
    };
    return {
      marker: undefined,
      stage,
      toArtifact: async (sink, artifact, args, judge) => (await stage(sink, artifact, args, judge)).start(),
      load: async (artifacts, name, args) => {
        const exit = await runWithInput(place, [tool.path, ...args], artifacts.open(name));
        return { code: exit.exitCode, signal: null, stderr: exit.stderr };
      },
    };
  }
  const optionFile = await files.create(label);
  const toArtifact: ToolRunPlan['toArtifact'] = (sink, artifact, args, judge) =>
    toolToArtifact(sink, artifact, tool.path, [`--defaults-file=${optionFile}`, ...args], {
      secrets: [t.password],
      checkExit: (exit) => {
        if (exit.code !== 0) judge(exit);
      },
    });
  return {
    marker: optionFile,
    toArtifact,
    stage: async (sink, artifact, args, judge) => ({ start: () => toArtifact(sink, artifact, args, judge), cancel: async () => undefined }),
    load: (artifacts, name, args) => artifacts.pipeToCommand(name, { command: tool.path, args: [`--defaults-file=${optionFile}`, ...args], secrets: [t.password] }),
  };
}
