import { describe, expect, test } from 'vitest';
import { engineOptions, renameOptions } from '../../src/cli/commands/restore.js';
import { renamer, restoreOption } from '../../src/core/rename.js';
import { HoldfastError } from '../../src/core/errors.js';

describe('restore options from the command line', () => {
  test('--option KEY=VALUE, repeatable; the value may hold "="; bad keys and missing "=" are usage errors', () => {
    expect(engineOptions(['rename_pattern=(.+)', 'rename_replacement=a=$1'])).toEqual({ rename_pattern: '(.+)', rename_replacement: 'a=$1' });
    expect(engineOptions([])).toEqual({});
    for (const bad of ['rename_pattern', '=x', 'Rename=x', 'a-b=x']) {
      expect(() => engineOptions([bad])).toThrow(HoldfastError);
      try {
        engineOptions([bad]);
      } catch (error) {
        expect((error as HoldfastError).code).toBe('usage');
      }
    }
  });

  test('--rename-pattern with or without a replacement; a replacement alone or an empty pattern is refused', () => {
    expect(renameOptions('(.+)', 'copy_$1')).toEqual({ rename_pattern: '(.+)', rename_replacement: 'copy_$1' });
    expect(renameOptions('^old_', undefined)).toEqual({ rename_pattern: '^old_', rename_replacement: '' });
    expect(renameOptions(undefined, undefined)).toEqual({});
    expect(() => renameOptions(undefined, 'x')).toThrow(/--rename-replacement needs --rename-pattern/);
    expect(() => renameOptions('', 'x')).toThrow(/--rename-pattern is empty/);
  });

  test('the renamer reads $1 groups as OpenSearch does and names a bad expression', () => {
    expect(renamer('(.+)', 'restored_$1')('docs')).toBe('restored_docs');
    expect(renamer('^logs-', 'old-logs-')('logs-2024')).toBe('old-logs-2024');
    expect(renamer(undefined, 'x')('docs')).toBe('docs');
    expect(() => renamer('(', 'x', 'qdrant')).toThrow(/not a valid regular expression/);
  });

  test('a command-line option wins over the target URL parameter, which wins over the configured option', () => {
    const target = { options: { rename_pattern: 'from-config' }, endpoint: { params: { rename_pattern: 'from-url' } } };
    expect(restoreOption({ rename_pattern: 'from-flag' }, target, 'rename_pattern')).toBe('from-flag');
    expect(restoreOption({}, target, 'rename_pattern')).toBe('from-url');
    expect(restoreOption({}, { options: { rename_pattern: 'from-config' } }, 'rename_pattern')).toBe('from-config');
    expect(restoreOption({}, { options: {} }, 'rename_pattern')).toBeUndefined();
  });
});
