import { HoldfastError } from '../core/errors.js';
import { runTool } from '../core/process.js';
import { toolToArtifact } from '../core/tool-artifact.js';
import type { StreamRun } from '../docker/docker-api.js';
import type { Place, PlaceRunOptions, Reached } from './place.js';

/**
 * The host place: the tools on this machine (spawned with argument arrays,
 * a parent-death signal, secrets in their environment) and the endpoint as
 * the URL names it.
 */
export const hostPlace: Place = {
  kind: 'host',
  where: 'on this host',

  async run(argv: readonly string[], options: PlaceRunOptions = {}): Promise<StreamRun> {
    const [command, ...args] = argv;
    if (!command) throw new HoldfastError('internal', 'empty command');
    const tool = runTool(command, args, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      stdin: options.stdin ? 'pipe' : 'ignore',
    });
    return {
      stdout: tool.stdout!,
      ...(tool.stdin ? { stdin: tool.stdin } : {}),
      done: tool.done.then((exit) => ({ exitCode: exit.code, stderr: exit.stderr })),
      abort: () => void tool.child.kill('SIGTERM'),
    };
  },

  toArtifact(argv, sink, artifact, options) {
    const [command, ...args] = argv;
    if (!command) throw new HoldfastError('internal', 'empty command');
    return toolToArtifact(sink, artifact, command, args, {
      ...(options.env ? { env: options.env } : {}),
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.allowEmpty ? { allowEmpty: true } : {}),
      checkExit: (exit) => {
        if (exit.code !== 0) options.judge(exit);
      },
    });
  },

  async reach(host: string, port: number): Promise<Reached> {
    return { host, port, close: async () => undefined };
  },

  async close() {},
};
