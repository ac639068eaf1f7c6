/**
 * serve's log: one line per event on stdout, as text for people or, with
 * --log-format json, as JSON lines ({time, level, msg, job, runId, ...}) for
 * a log collector. URLs with credentials are redacted in both.
 */
import { redactUrl } from '../core/service.js';

export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

export interface ServeLog {
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export function createServeLog(format: LogFormat, write: (line: string) => void = (l) => process.stdout.write(l)): ServeLog {
  const emit = (level: string, msg: string, fields: LogFields = {}) => {
    const time = new Date().toISOString();
    if (format === 'json') {
      write(`${redactUrl(JSON.stringify({ time, level, msg, ...fields }))}\n`);
      return;
    }
    const tags = [fields.job && `[${String(fields.job)}]`, fields.runId && `(${String(fields.runId)})`].filter(Boolean).join(' ');
    const rest = Object.entries(fields)
      .filter(([k, v]) => k !== 'job' && k !== 'runId' && v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    write(`${redactUrl(`${time} ${level.padEnd(5)} ${tags ? `${tags} ` : ''}${msg}${rest ? `  ${rest}` : ''}`)}\n`);
  };
  return { info: (m, f) => emit('info', m, f), warn: (m, f) => emit('warn', m, f), error: (m, f) => emit('error', m, f) };
}
