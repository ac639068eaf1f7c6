import { docker } from './docker.js';

/** One docker exec in a container, as the daemon's events tell it: its command line, and when it started and ended (ns). */
export interface ExecSpan {
  id: string;
  command: string;
  start?: bigint;
  die?: bigint;
}

/**
 * The execs of `container` between `since` and `until` (seconds, as `docker events` takes them), in the order they
 * were created. For tests of what overlaps what: the daemon's own clock, not the test's.
 */
export async function execTimeline(container: string, since: string, until: string): Promise<ExecSpan[]> {
  // One JSON object a line: an exec's command line may hold newlines (a script), which the plain format would split.
  const out = await docker(['events', '--since', since, '--until', until, '--filter', `container=${container}`, '--format', '{{json .}}']);
  const spans = new Map<string, ExecSpan>();
  for (const line of out.split('\n').filter(Boolean)) {
    const event = JSON.parse(line) as { Action?: string; timeNano?: number | string; Actor?: { Attributes?: Record<string, string> } };
    const id = event.Actor?.Attributes?.execID;
    const action = event.Action ?? '';
    if (!id || event.timeNano === undefined || !action.startsWith('exec_')) continue;
    const at = BigInt(event.timeNano);
    const span = spans.get(id) ?? { id, command: '' };
    spans.set(id, span);
    if (action.startsWith('exec_create: ')) span.command = action.slice('exec_create: '.length);
    else if (action.startsWith('exec_start')) span.start = at;
    else if (action === 'exec_die') span.die = at;
  }
  return [...spans.values()];
}

/** The first exec whose command line contains `text`, or an error listing what ran. */
export function firstExec(spans: readonly ExecSpan[], text: string): ExecSpan {
  const found = spans.find((s) => s.command.includes(text));
  if (!found) throw new Error(`no exec with ${JSON.stringify(text)} among: ${spans.map((s) => s.command.slice(0, 80)).join(' | ')}`);
  return found;
}
