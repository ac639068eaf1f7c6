import { HoldfastError } from './errors.js';

/**
 * The restore option pair rename_pattern / rename_replacement (`restore
 * --rename-pattern`, or target URL parameters): a name restored under a new
 * one, as OpenSearch's _restore renames indices (Java's replaceAll; `$1`
 * groups read the same in JavaScript). Drivers that rename themselves
 * (Qdrant collections) use the same rule, so one flag means one thing.
 */
export function renamer(pattern: string | undefined, replacement: string, driver?: string): (name: string) => string {
  if (!pattern) return (name) => name;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'g');
  } catch (cause) {
    throw new HoldfastError('usage', `rename_pattern ${JSON.stringify(pattern)} is not a valid regular expression`, { ...(driver ? { driver } : {}), hint: 'for example --rename-pattern "(.+)" --rename-replacement "restored_$1"', cause });
  }
  return (name) => name.replace(re, replacement);
}

/** A string restore option: the command line's first, then the target's own (URL parameter or config option). */
export function restoreOption(options: Record<string, unknown>, target: { options: Record<string, unknown>; endpoint?: { params: Record<string, string> } }, key: string): string | undefined {
  for (const value of [options[key], target.endpoint?.params[key], target.options[key]]) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
