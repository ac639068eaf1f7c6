import type { StrategyOffer } from '../../src/core/driver.js';
import { PATH_REPO_HINT, type NodeFacts } from './opensearch-inspector.js';

/** One strategy: the engine snapshot. The volume strategy (stopped node) is the volume driver's fallback. */
export function openSearchStrategies(facts: NodeFacts): StrategyOffer[] {
  return [
    {
      name: 'snapshot',
      consistency: 'engine-snapshot',
      summary: 'snapshot into a holdfast fs repository under path.repo, polled, then the repository copied out as one tar',
      requirements: [
        {
          what: 'path.repo set on the node',
          met: facts.pathRepo.length > 0,
          detail: facts.pathRepo.length > 0 ? facts.pathRepo.join(', ') : 'not set',
          hint: PATH_REPO_HINT,
        },
      ],
      // A snapshot restores into the same or the next major version.
      restoresIntoNewer: true,
    },
  ];
}
