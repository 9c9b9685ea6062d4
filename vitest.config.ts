import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // After the run: nothing bpfkit's kernel tests made is left in the kernel (fails the run otherwise).
    // test/support/nobody.setup.ts: `nobody` can reach the checkout for the tests that run the CLI without privileges.
    globalSetup: ['test/support/nobody.setup.ts', 'test/kernel/attach-leftovers.setup.ts'],
    // Kernel tests share one kernel; files run in parallel but each cleans up after itself.
  },
});
