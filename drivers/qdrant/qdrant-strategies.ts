import type { StrategyOffer } from '../../src/core/driver.js';

/** One strategy: per-collection snapshots through the API (no tool, no file access needed). */
export function qdrantStrategies(version: string): StrategyOffer[] {
  return [
    {
      name: 'snapshot',
      consistency: 'engine-snapshot',
      summary: 'per-collection snapshots through the API, downloaded with their sha256 checked, restored by upload with priority=snapshot',
      requirements: [{ what: 'Qdrant answering on its REST port', met: true, detail: `version ${version}` }],
      // A collection snapshot restores only on the same minor version.
      restoresIntoNewer: false,
    },
  ];
}
