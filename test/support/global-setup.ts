import { execFileSync } from 'node:child_process';

/** The CLI tests run bin/holdfast.js, which loads dist/: build once before the suite. */
export default function setup(): void {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
