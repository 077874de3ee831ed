import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Architecture: only src/kube talks to Kubernetes, only src/cloud to providers.
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@kubernetes/client-node'], message: 'Only src/kube may import @kubernetes/client-node.' },
            { regex: '^(@aws-sdk/|cloudflare(/|$))', message: 'Only src/cloud/* may import provider SDKs.' },
          ],
        },
      ],
    },
  },
  { files: ['src/kube/**'], rules: { 'no-restricted-imports': ['error', { patterns: [{ regex: '^(@aws-sdk/|cloudflare(/|$))', message: 'Only src/cloud/* may import provider SDKs.' }] }] } },
  { files: ['src/cloud/**', 'test/**'], rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['@kubernetes/client-node'], message: 'Only src/kube may import @kubernetes/client-node.' }] }] } },
  { files: ['**/*.test.ts', 'test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['test/**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
);
