// `plan` and `discover` print one line per service: each distinct reason once, where the planner's
// reason repeated the same unmet requirement for every volume strategy.
import { describe, expect, test } from 'vitest';
import type { StrategyOffer } from '../../src/core/driver.js';
import { chooseStrategy } from '../../src/core/planner.js';
import { shortWhy } from '../../src/cli/output.js';

const HELPER = 'tar in the helper image debian:stable-slim (the helper image debian:stable-slim is not on the Docker daemon at unix:///var/run/docker.sock)';
const tarOffer = (name: string, consistency: StrategyOffer['consistency']): StrategyOffer => ({
  name,
  consistency,
  summary: `${name} of app_data`,
  requirements: [{ what: 'tar in the helper image debian:stable-slim', met: false, detail: 'the helper image debian:stable-slim is not on the Docker daemon at unix:///var/run/docker.sock', hint: 'docker pull debian:stable-slim' }],
  restoresIntoNewer: true,
});
const service = { name: 'db', options: {}, origin: 'docker' as const };

describe('the one line of a plan item', () => {
  test('a requirement every volume strategy misses is said once, naming the strategies', () => {
    const offers = [
      { name: 'pg_dump', consistency: 'transactional' as const, summary: 'pg_dump', requirements: [{ what: 'psql connects', met: false, detail: 'password authentication failed' }], restoresIntoNewer: true },
      tarOffer('tar', 'quiesced'),
      tarOffer('tar-pause', 'crash-consistent'),
    ];
    const choice = chooseStrategy(service, offers);
    expect(choice.error!.message.split(HELPER).length - 1).toBe(2);
    const line = shortWhy({ ...choice, error: choice.error!.toJSON() as { message: string; hint?: string } });
    expect(line.split(HELPER).length - 1).toBe(1);
    expect(line).toBe(`cannot back up: no backup strategy can run: pg_dump: psql connects (password authentication failed); tar, tar-pause: ${HELPER} (hint: docker pull debian:stable-slim)`);
  });

  test('the place of the chosen strategy leads, then its reason, then what was skipped, each reason once', () => {
    const offers: StrategyOffer[] = [
      { name: 'snapshot', consistency: 'engine-snapshot', summary: 'per-collection snapshots', requirements: [], restoresIntoNewer: false, place: { kind: 'sidecar', where: 'in a sidecar joined to container shop-qdrant-1', reason: 'port 6333 is not published' } },
    ];
    const choice = chooseStrategy(service, offers);
    expect(shortWhy({ ...choice, place: offers[0]!.place! })).toBe('in a sidecar joined to container shop-qdrant-1: port 6333 is not published; strongest available: per-collection snapshots (engine-snapshot)');
    const skipped = chooseStrategy(service, [{ ...offers[0]!, requirements: [{ what: 'x', met: false }] }, tarOffer('tar-live', 'inconsistent'), { ...tarOffer('tar', 'quiesced'), requirements: [] }]);
    expect(shortWhy(skipped)).toBe('strongest available: tar of app_data (quiesced); skipped snapshot: x; tar-live: inconsistent (a live copy), used only when pinned');
  });
});
