import type { Requirement, StrategyOffer } from '../../src/core/driver.js';
import type { Service } from '../../src/core/service.js';
import { toHoldfastError } from '../../src/core/errors.js';
import { pgContainer, pgExecText, type PgContainer } from './postgres-container.js';
import { serverFacts } from './postgres-inspector.js';
import { PsqlSession } from './postgres-psql-session.js';

/** `pg_dump --version` inside the container, parsed; undefined when the tool is missing. */
export async function containerToolVersion(pc: PgContainer, tool: string): Promise<{ version: string; major: number } | undefined> {
  const out = await pgExecText(pc, [tool, '--version']).catch(() => undefined);
  const m = out && out.exitCode === 0 ? /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(out.stdout) : null;
  return m ? { version: m[2] ? `${m[1]}.${m[2]}` : m[1]!, major: Number(m[1]) } : undefined;
}

/**
 * In a container, the strategy is pg_dump with the image's own tools. Each
 * requirement is checked for real (the container runs, the tools are there,
 * psql gets in with the credentials known): when one fails, the plan says
 * which, and the volume fallback (volume-fallback.ts) takes over.
 */
export async function containerStrategies(service: Service, signal?: AbortSignal): Promise<StrategyOffer[]> {
  const requirements: Requirement[] = [];
  const offer: StrategyOffer = {
    name: 'pg_dump',
    consistency: 'transactional',
    summary: `pg_dump per database from an exported snapshot, plus pg_dumpall --globals-only, run inside container ${service.container?.name ?? service.endpoint?.path}`,
    requirements,
    restoresIntoNewer: true,
  };
  let pc: PgContainer;
  try {
    pc = await pgContainer(service, signal);
    requirements.push({ what: 'the container runs', met: true, detail: pc.name });
  } catch (error) {
    const e = toHoldfastError(error);
    requirements.push({ what: 'the container runs', met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    return [offer];
  }
  const [dump, dumpAll] = await Promise.all([containerToolVersion(pc, 'pg_dump'), containerToolVersion(pc, 'pg_dumpall')]);
  let major: number | undefined;
  try {
    const session = await PsqlSession.open(pc, 'postgres', signal);
    try {
      const facts = await serverFacts(session);
      major = facts.major;
      requirements.push({ what: 'psql in the container connects with the known credentials', met: true, detail: `PostgreSQL ${facts.version}` });
    } finally {
      await session.close();
    }
  } catch (error) {
    const e = toHoldfastError(error);
    requirements.push({ what: 'psql in the container connects with the known credentials', met: false, detail: e.message, ...(e.hint ? { hint: e.hint } : {}) });
  }
  for (const [tool, found] of [['pg_dump', dump], ['pg_dumpall', dumpAll]] as const) {
    requirements.push({
      what: `${tool} in the image${major ? ` of major ${major} or newer` : ''}`,
      met: !!found && (major === undefined || found.major >= major),
      detail: found ? `${tool} ${found.version}` : 'not in the image',
      hint: 'use an image that ships the PostgreSQL client tools (the official postgres images do)',
    });
  }
  return [offer];
}
