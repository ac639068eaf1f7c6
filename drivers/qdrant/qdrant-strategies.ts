import type { StrategyOffer } from '../../src/core/driver.js';

/**
 * Per-collection snapshots first (any deployment); the full-storage snapshot
 * (every collection and the aliases in one archive) only on a single node,
 * and only when pinned, as the planner takes the first offer that can run.
 */
export function qdrantStrategies(version: string, peers: number): StrategyOffer[] {
  return [
    {
      name: 'snapshot',
      consistency: 'engine-snapshot',
      // engine-snapshot as DESIGN.md defines it: per shard. The manifest's details.consistencyScope says so in words.
      summary: 'per-collection snapshots through the API (consistent per shard), downloaded with their sha256 checked, restored by upload with priority=snapshot, aliases recreated',
      requirements: [{ what: 'Qdrant answering on its REST port', met: true, detail: `version ${version}` }],
      // A collection snapshot restores only on the same minor version.
      restoresIntoNewer: false,
    },
    {
      name: 'full-snapshot',
      consistency: 'engine-snapshot',
      summary: 'one full-storage snapshot (every collection and the aliases; consistent per shard), sha256 checked; restored by uploading the collection snapshots it holds (or at start: qdrant --storage-snapshot FILE)',
      requirements: [
        {
          what: 'a single-node deployment',
          met: peers <= 1,
          detail: peers <= 1 ? 'single node' : `${peers} peers`,
          hint: 'a full snapshot holds only one node\'s shards: use the strategy snapshot on each node of a cluster',
        },
      ],
      restoresIntoNewer: false,
    },
  ];
}
