/**
 * The deployment examples (examples/ and the Dockerfile) stay valid: every
 * YAML parses, holdfast's own parsers accept the holdfast.yml they carry,
 * the manifests have the fields their consumers need, and the systemd units
 * pass `systemd-analyze verify` (with a parse of their sections where it is
 * not installed).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/core/config.js';
import { onPath } from '../../src/core/process-deathsig.js';
import { serveSettings } from '../../src/serve/serve-config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EX = join(ROOT, 'examples');
const read = (path: string) => readFileSync(join(EX, path), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'holdfast-examples-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Every document of a YAML file, failing on any syntax error or warning. */
function yamlDocs(path: string): Array<Record<string, any>> {
  return parseAllDocuments(read(path)).map((doc) => {
    expect([...doc.errors, ...doc.warnings].map((e) => e.message), path).toEqual([]);
    return doc.toJS() as Record<string, any>;
  });
}

/** A unit file's sections and their keys (systemd's INI dialect: repeated keys kept in order). */
function unitSections(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a unit file line: ${line}`);
    current.push([kv[1]!, kv[2]!]);
  }
  return sections;
}

describe('examples', () => {
  test('every YAML file under examples/ parses', () => {
    const files = (readdirSync(EX, { recursive: true }) as string[]).filter((f) => /\.ya?ml$/.test(f));
    expect(files.sort()).toEqual(['compose/docker-compose.yml', 'compose/holdfast.yml', 'kubernetes/holdfast-cronjob.yaml']);
    for (const f of files) expect(yamlDocs(f).length).toBeGreaterThan(0);
  });

  test('compose: holdfast is one more service, built as holdfast:local, with the socket, its config, labels on the others', () => {
    const [compose] = yamlDocs('compose/docker-compose.yml');
    const hf = compose!.services.holdfast;
    expect(hf.image).toBe('holdfast:local');
    expect(hf.build).toEqual({ context: '../..', dockerfile: 'Dockerfile' });
    expect(hf.volumes).toEqual(expect.arrayContaining(['/var/run/docker.sock:/var/run/docker.sock', './holdfast.yml:/etc/holdfast/holdfast.yml:ro']));
    expect(hf.labels['holdfast.exclude']).toBe('true');
    expect(compose!.services.db.labels['holdfast.pre-backup']).toBeTruthy();
    expect(JSON.parse(compose!.services.db.labels['holdfast.post-backup'])).toEqual(['sh', '-c', expect.stringContaining('$$HOLDFAST_STATUS')]);
    for (const v of Object.keys(compose!.volumes)) expect(JSON.stringify(compose!.services)).toContain(`${v}:`);
    // Its holdfast.yml is one serve accepts (cron, zones, job types, notifications) and one holdfast loads.
    const path = join(EX, 'compose/holdfast.yml');
    const config = loadConfig(path, []);
    expect(config.docker).toMatchObject({ project: 'shop', discover: true });
    const settings = serveSettings(config.document, path);
    expect(settings.jobs.map((j) => j.type).sort()).toEqual(['backup', 'check', 'forget', 'restore-test']);
    expect(settings.metrics).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(hf.ports).toEqual([`127.0.0.1:${settings.metrics!.port}:${settings.metrics!.port}`]);
  });

  test('kubernetes: a CronJob that never overlaps, an S3 prefix of its own, secrets from a Secret', () => {
    const docs = yamlDocs('kubernetes/holdfast-cronjob.yaml');
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual(['v1 Secret', 'v1 ConfigMap', 'batch/v1 CronJob']);
    for (const d of docs) expect(d.metadata).toMatchObject({ name: expect.any(String), namespace: 'backup' });
    const [secret, configMap, cron] = docs as [Record<string, any>, Record<string, any>, Record<string, any>];
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    expect(cron.spec.schedule.split(' ')).toHaveLength(5);
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    const [container] = pod.containers;
    expect(container.args[0]).toBe('backup');
    // Credentials only by reference: no literal secret value in the pod spec.
    for (const e of container.env) expect(e.value === undefined || !/KEY|SECRET|PASSWORD/.test(e.name)).toBe(true);
    const keys = container.env.filter((e: any) => e.valueFrom).map((e: any) => e.valueFrom.secretKeyRef);
    for (const ref of keys) expect(secret.stringData).toHaveProperty(ref.key);
    expect(pod.volumes.find((v: any) => v.secret)?.secret.secretName).toBe(secret.metadata.name);
    const mounted = new Map(container.volumeMounts.map((m: any) => [m.name, m.mountPath]));
    expect(pod.volumes.map((v: any) => v.name).sort()).toEqual([...mounted.keys()].sort());
    // Its holdfast.yml: an s3:// repository under a prefix, services with password files under the secret mount.
    const path = join(scratch, 'k8s-holdfast.yml');
    writeFileSync(path, configMap.data['holdfast.yml']);
    const config = loadConfig(path, []);
    expect(config.repo).toMatch(/^s3:\/\/[^/]+\/.+/);
    for (const s of config.services) expect(String(s.options.password_file)).toMatch(new RegExp(`^${mounted.get('secrets')}/`));
    expect(config.services.find((s) => s.name === 'db')?.hooks?.['post-backup']?.argv[0]).toBe('/bin/sh');
  });

  test('the Dockerfile installs Node, the client tools, zstd and restic from Debian packages and runs serve by default', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    // RUN lines joined across their backslash-newlines.
    const packages = [...text.replace(/\\\n/g, ' ').matchAll(/apt-get install[^\n]*/g)].map((m) => m[0]).join(' ');
    for (const p of ['nodejs', 'postgresql-client', 'mariadb-client', 'zstd', 'restic']) expect(packages).toMatch(new RegExp(`\\b${p}\\b`));
    expect(text).toMatch(/^ENTRYPOINT \["holdfast"\]$/m);
    expect(text).toMatch(/^CMD \["serve"\]$/m);
    expect(text).toMatch(/^ARG BASE=debian:trixie/m);
  });

  test("CI's registry-free route to the image (fixtures/images/holdfast) runs the same way as the Dockerfile", () => {
    // The instructions that decide how the image runs, with the final stage's ENV split into NAME=value pairs.
    const runtime = (path: string) => {
      const text = readFileSync(join(ROOT, path), 'utf8').replace(/\\\n\s*/g, ' ');
      const last = text.slice(text.lastIndexOf('\nFROM '));
      const lines = last.split('\n').filter((l) => /^(ENTRYPOINT|CMD|WORKDIR|EXPOSE|STOPSIGNAL) /.test(l));
      const env = [...last.matchAll(/^ENV (.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).filter((kv) => kv.startsWith('HOLDFAST_') || kv.startsWith('NODE_ENV'));
      return { lines: lines.sort(), env: env.sort() };
    };
    const ci = runtime('fixtures/images/holdfast/Dockerfile');
    expect(ci).toEqual(runtime('Dockerfile'));
    expect(ci.lines).toContain('CMD ["serve"]');
    expect(readFileSync(join(ROOT, 'fixtures/images/holdfast/passwd'), 'utf8')).toMatch(/^holdfast:x:10001:10001:/m);
  });

  test('systemd: a backup service with its timer, and a serve service', () => {
    const dir = join(EX, 'systemd');
    expect(readdirSync(dir).sort()).toEqual(['holdfast-backup.service', 'holdfast-backup.timer', 'holdfast-serve.service']);
    const backup = unitSections(read('systemd/holdfast-backup.service'));
    const timer = unitSections(read('systemd/holdfast-backup.timer'));
    const serve = unitSections(read('systemd/holdfast-serve.service'));
    expect([...backup.keys()]).toEqual(['Unit', 'Service']);
    expect(new Map(backup.get('Service')).get('Type')).toBe('oneshot');
    expect(new Map(backup.get('Service')).get('ExecStart')).toMatch(/^\/usr\/bin\/holdfast backup\b/);
    expect([...timer.keys()]).toEqual(['Unit', 'Timer', 'Install']);
    expect(Object.fromEntries(timer.get('Timer')!)).toMatchObject({ Unit: 'holdfast-backup.service', Persistent: 'true', OnCalendar: expect.any(String) });
    expect(new Map(timer.get('Install')).get('WantedBy')).toBe('timers.target');
    expect([...serve.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(new Map(serve.get('Service')).get('ExecStart')).toMatch(/^\/usr\/bin\/holdfast serve\b/);

    const analyze = onPath('systemd-analyze', process.env.PATH);
    if (!analyze) return; // the parse above is the check on machines without systemd
    // verify checks that ExecStart's program exists: a stand-in for /usr/bin/holdfast.
    const units = mkdtempSync(join(scratch, 'units-'));
    writeFileSync(join(units, 'holdfast'), '#!/bin/sh\n');
    chmodSync(join(units, 'holdfast'), 0o755);
    const names = readdirSync(dir);
    for (const name of names) writeFileSync(join(units, name), read(`systemd/${name}`).replaceAll('/usr/bin/holdfast', join(units, 'holdfast')));
    // verify exits 0 on a bad setting and only warns: any output is a failure.
    const verify = spawnSync(analyze, ['verify', '--man=no', ...names.map((n) => join(units, n))], { cwd: units, encoding: 'utf8' });
    expect({ status: verify.status, output: (verify.stdout + verify.stderr).trim() }).toEqual({ status: 0, output: '' });
  });
});
