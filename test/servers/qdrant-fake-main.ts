/**
 * The FAKE Qdrant (qdrant-fake.ts) as a program, for a container
 * (test/support/qdrant-container.ts): it listens on the container's
 * 127.0.0.1 at QDRANT__SERVICE__HTTP_PORT (default 6333), requires
 * QDRANT__SERVICE__API_KEY when set, as Qdrant itself reads them, and prints
 * `HOLDFAST_QDRANT_READY port=N` once it answers.
 */
import { startFakeQdrant } from './qdrant-fake.js';

const port = Number(process.env.QDRANT__SERVICE__HTTP_PORT || 6333);
const apiKey = process.env.QDRANT__SERVICE__API_KEY || undefined;
const node = await startFakeQdrant({ port, ...(apiKey ? { apiKey } : {}) });
process.stdout.write(`HOLDFAST_QDRANT_READY port=${node.port}\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void node.stop().then(() => process.exit(0)));
