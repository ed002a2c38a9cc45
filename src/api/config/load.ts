/**
 * Finding, reading and validating a configuration: find the file, read it, overlay the
 * environment (`S3S3_<SECTION>_<KEY>`), give `[DEFAULT]`'s keys to the endpoint sections,
 * read every section through the table and report every problem at once (file, section,
 * key, and the nearest known name for a typo); then return a frozen object.
 */
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { readEndpoint } from './backends.js';
import { readHttp } from './http.js';
import { parseIni, type IniDocument } from './ini-file.js';
import { ENDPOINT_KEYS, keyNames, KEYS, parseEnvVariable, SECRET_KEYS } from './keys.js';
import { readNotify } from './notify.js';
import { readPubsub } from './pubsub.js';
import { Reader, type Entries, type ReadContext } from './reader.js';
import { crossSectionProblems } from './rules.js';
import type { Config, ConfigOverride, EndpointConfig, LoadConfigOptions, ParseConfigOptions } from './types.js';
import { isPlaceholder, naturalCompare, nearest } from './values.js';

type Raw = Map<string, Entries>;

/** The service sections, by name; every other known section is an endpoint (`source`, `dest*`). */
const SERVICE_SECTIONS = ['pubsub', 'http', 'notify'] as const;
/** Keys `[DEFAULT]` may hold: those of the endpoint sections (which it applies to) and of `[pubsub]`. */
const DEFAULT_KEYS: readonly string[] = [...new Set([...ENDPOINT_KEYS, ...keyNames('pubsub')])];

/** The keys a section may hold. */
function keysOf(section: string): readonly string[] {
  return (SERVICE_SECTIONS as readonly string[]).includes(section)
    ? keyNames(section as (typeof SERVICE_SECTIONS)[number])
    : ENDPOINT_KEYS;
}

/** The files tried, in order, when no `--config` is given. */
export function configSearchPath(options: LoadConfigOptions = {}): string[] {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const home = options.home ?? homedir();
  const list: string[] = [];
  if (env.S3S3_CONFIG) list.push(resolve(cwd, env.S3S3_CONFIG));
  list.push(join(cwd, 's3s3.ini'), join(home, '.s3s3.ini'), '/usr/local/etc/s3s3.ini', '/etc/s3s3.ini');
  return list;
}

/** Find, read, overlay the environment, validate. Throws ConfigError listing every problem. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  let file: string | null = null;
  let text = '';
  if (options.file !== undefined) {
    file = resolve(options.cwd ?? process.cwd(), options.file);
    text = readOrThrow(file);
  } else {
    const candidates = configSearchPath(options);
    file = candidates.find((f) => isFile(f)) ?? null;
    if (file !== null) {
      text = readOrThrow(file);
    } else if (!hasEnvConfig(env)) {
      throw new ConfigError([
        {
          file: 'config',
          message:
            `no config file found (looked in ${candidates.join(', ')}); ` +
            'pass --config FILE or copy s3s3.ini.dist to ./s3s3.ini',
        },
      ]);
    }
  }
  const config = parseConfig(text, {
    file: file ?? 'environment',
    env,
    ...(options.overrides ? { overrides: options.overrides } : {}),
    baseDir: file !== null ? dirname(file) : options.cwd,
  });
  const warnings = [...config.warnings];
  if (file !== null) warnings.push(...permissionWarnings(file, text));
  return Object.freeze({ ...config, file, warnings: Object.freeze(warnings) });
}

function readOrThrow(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError([{ file, message: `cannot read config file: ${why}` }]);
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function hasEnvConfig(env: NodeJS.ProcessEnv): boolean {
  return Object.keys(env).some((k) => k.startsWith('S3S3_SOURCE_'));
}

function permissionWarnings(file: string, text: string): ConfigProblem[] {
  try {
    const mode = statSync(file).mode;
    const holdsSecret = parseIniSecrets(text);
    if ((mode & 0o004) !== 0 && holdsSecret) {
      return [
        {
          file,
          message:
            `is readable by every user and holds a secret; run: chmod 600 ${file} ` +
            '(or move secrets to S3S3_<SECTION>_<KEY> environment variables)',
        },
      ];
    }
  } catch {
    // stat failed after a successful read: nothing useful to warn about.
  }
  return [];
}

function parseIniSecrets(text: string): boolean {
  const doc = parseIni(text);
  for (const section of doc.sections.values()) {
    for (const [key, entry] of section.entries) {
      if (SECRET_KEYS.has(key) && entry.value !== '' && !isPlaceholder(entry.value)) {
        // A URL is a secret only when it holds a password.
        if ((key === 'redis_url' || key === 'smtp_url') && !/\/\/[^/@]*:[^/@]+@/.test(entry.value)) continue;
        return true;
      }
    }
  }
  return false;
}

/** Validate INI text plus environment overrides. Reads `env` and the files the config names (secrets, CA bundles). */
export function parseConfig(text: string, options: ParseConfigOptions): Config {
  const { file } = options;
  const env = options.env ?? {};
  const doc: IniDocument = parseIni(text);
  const problems: ConfigProblem[] = doc.problems.map((p) => ({
    file,
    section: p.section,
    key: p.key,
    message: p.message,
  }));
  const warnings: ConfigProblem[] = [];

  const raw: Raw = new Map();
  for (const section of doc.sections.values()) {
    const entries: Entries = new Map();
    for (const [key, e] of section.entries) entries.set(key, { value: e.value, origin: `${file}:${e.line}`, level: 1 });
    raw.set(section.name, entries);
  }
  applyEnv(raw, env);
  for (const entries of raw.values()) applyAliases(entries);
  applyOverrides(raw, options.overrides ?? []);

  const defaults = raw.get('DEFAULT') ?? raw.get('defaults') ?? new Map();
  const sectionNames = [...raw.keys()].filter((s) => s !== 'DEFAULT' && s !== 'defaults');
  const destNames = sectionNames.filter((s) => s.toLowerCase().startsWith('dest')).sort(naturalCompare);
  const isEndpointOrService = (name: string): boolean =>
    name === 'source' || (SERVICE_SECTIONS as readonly string[]).includes(name) || destNames.includes(name);

  for (const name of sectionNames) {
    if (!isEndpointOrService(name)) {
      const near = nearest(name, ['source', 'dest1', ...SERVICE_SECTIONS]);
      warnings.push({
        file,
        section: name,
        message: `unknown section ignored${near ? `; did you mean [${near}]?` : ''}`,
      });
    }
  }
  for (const [sectionName, entries] of raw) {
    const isDefault = sectionName === 'DEFAULT' || sectionName === 'defaults';
    if (!isDefault && !isEndpointOrService(sectionName)) continue;
    const allowed = keysOf(sectionName);
    for (const key of entries.keys()) {
      if ((isDefault ? DEFAULT_KEYS : allowed).includes(key)) continue;
      const near = nearest(key, allowed);
      warnings.push({
        file,
        section: sectionName,
        key,
        message: `unknown key ignored${near ? `; did you mean "${near}"?` : ''}`,
      });
    }
  }

  const sourceRaw = raw.get('source');
  if (!sourceRaw) {
    problems.push({
      file,
      section: 'source',
      message: 'missing section [source]: add it with bucket_name, aws_access_key_id and aws_secret_access_key',
    });
  }
  if (destNames.length === 0) {
    problems.push({
      file,
      section: 'dest1',
      message: 'no destination: add at least one section whose name starts with "dest", e.g. [dest1]',
    });
  }

  const ctx: ReadContext = { file, problems, warnings, baseDir: options.baseDir ?? process.cwd() };
  const source = sourceRaw ? readEndpoint('source', withDefaults(defaults, sourceRaw), ctx) : undefined;
  const destinations = destNames.map((n) => readEndpoint(n, withDefaults(defaults, raw.get(n)!), ctx));
  problems.push(...crossSectionProblems(file, source, destinations));

  // [pubsub] takes no keys from [DEFAULT] (as before); [http] and [notify] neither.
  const pubsubRaw = raw.get('pubsub');
  const pubsub = readPubsub(
    new Reader(pubsubRaw ?? new Map(), ctx, 'pubsub', 'pubsub'),
    pubsubRaw !== undefined,
    source?.concurrency ?? Number(KEYS.find((k) => k.name === 'concurrency')!.default),
  );
  const http = raw.has('http') ? readHttp(new Reader(raw.get('http')!, ctx, 'http', 'http')) : undefined;
  const notify = raw.has('notify') ? readNotify(new Reader(raw.get('notify')!, ctx, 'notify', 'notify')) : undefined;

  if (problems.length > 0 || !source || destinations.some((d) => d === undefined) || !pubsub) {
    throw new ConfigError(problems, warnings);
  }
  return Object.freeze({
    file,
    source,
    destinations: Object.freeze(destinations as EndpointConfig[]),
    pubsub,
    ...(http ? { http } : {}),
    ...(notify ? { notify } : {}),
    warnings: Object.freeze(warnings),
  });
}

/** `S3S3_<SECTION>_<KEY>` wins over the file (the rule: `envVariable` and `parseEnvVariable` in keys.ts). */
function applyEnv(raw: Raw, env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) {
    const parsed = value === undefined ? undefined : parseEnvVariable(name);
    if (!parsed || value === undefined) continue;
    const { section: envSection, key } = parsed;
    // Match an existing section whose name normalises to the same form, so [dest-eu] takes S3S3_DEST_EU_*.
    const section =
      [...raw.keys()].find((s) => s.toLowerCase().replace(/[^a-z0-9]/g, '_') === envSection) ?? envSection;
    if (!raw.has(section)) raw.set(section, new Map());
    raw.get(section)!.set(key, { value: value.trim(), origin: `environment ${name}`, level: 2 });
  }
}

/** Keys set by flags, over the file and the environment (level 3), in the sections they name. */
function applyOverrides(raw: Raw, overrides: readonly ConfigOverride[]): void {
  for (const o of overrides) {
    const names = [...raw.keys()].filter(
      (s) => s === 'source' || (o.sections === 'endpoints' && s.toLowerCase().startsWith('dest')),
    );
    for (const name of names) raw.get(name)!.set(o.key, { value: o.value, origin: `option ${o.flag}`, level: 3 });
  }
}

/** A key written under an alias the table lists is read as the key itself (the key wins when both are set). */
function applyAliases(entries: Entries): void {
  for (const def of KEYS) {
    for (const alias of def.aliases ?? []) {
      const e = entries.get(alias);
      if (e === undefined) continue;
      entries.delete(alias);
      if (!entries.has(def.name)) entries.set(def.name, e);
    }
  }
}

/** An endpoint section with the `[DEFAULT]` keys it does not set itself (at level 0, below its own). */
function withDefaults(defaults: Entries, section: Entries): Entries {
  const merged: Entries = new Map();
  for (const [k, v] of defaults) if (ENDPOINT_KEYS.includes(k)) merged.set(k, { ...v, level: 0 });
  for (const [k, v] of section) merged.set(k, v);
  return merged;
}
