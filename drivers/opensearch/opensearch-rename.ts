import { HoldfastError } from '../../src/core/errors.js';

/**
 * The name an index gets from OpenSearch's rename_pattern / rename_replacement
 * (Java's replaceAll; `$1` groups read the same in JavaScript), so holdfast
 * knows the restored names before the restore starts and can check them.
 */
export function renamer(pattern: string | undefined, replacement: string): (index: string) => string {
  if (!pattern) return (index) => index;
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'g');
  } catch (cause) {
    throw new HoldfastError('usage', `rename_pattern ${JSON.stringify(pattern)} is not a valid regular expression`, { driver: 'opensearch', hint: 'for example rename_pattern=(.+) rename_replacement=restored_$1', cause });
  }
  return (index) => index.replace(re, replacement);
}
