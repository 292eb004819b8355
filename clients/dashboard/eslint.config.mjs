// ESLint (flat config) for the dashboard: typescript-eslint's recommended and
// strict rules over src/, and the recommended rules over the build script and
// the browser test. `npm run lint`; scripts/check-style.sh runs it.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    files: ['src/**/*.ts'],
    languageOptions: { globals: globals.browser },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/sw/**/*.ts'],
    languageOptions: { globals: globals.serviceworker },
  },
  {
    // The tests' page.evaluate callbacks run in the browser, worker.evaluate ones in the service worker.
    files: ['*.mjs', 'test/**/*.mjs'],
    // (globals has no NotificationEvent: a service worker's own event classes are named here.)
    languageOptions: {
      globals: { ...globals.node, ...globals.browser, ...globals.serviceworker, NotificationEvent: 'readonly', PushEvent: 'readonly' },
    },
  },
);
