// The linter: TypeScript's recommended rules (without type information, so it stays fast on
// two cores), a doc comment on every exported symbol, and no line over 120 characters except
// one holding a URL. Formatting itself is prettier's (`npm run format`).
import js from '@eslint/js';
import globals from 'globals';
import jsdoc from 'eslint-plugin-jsdoc';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/*.cjs', 'ecosystem.config.js'] },
  js.configs.recommended,
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: globals.node } },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { jsdoc },
    rules: {
      'max-len': ['error', { code: 120, ignoreUrls: true, ignorePattern: '^\\s*(//|\\*).*https?://' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-control-regex': 'off',
    },
  },
  {
    // Every exported symbol of the library and the CLIs carries its own doc comment.
    files: ['src/**/*.ts'],
    rules: {
      'jsdoc/require-jsdoc': [
        'error',
        {
          publicOnly: { esm: true },
          require: {
            FunctionDeclaration: true,
            ClassDeclaration: true,
            MethodDefinition: false,
            ArrowFunctionExpression: true,
            FunctionExpression: true,
          },
          contexts: [
            'ExportNamedDeclaration > TSInterfaceDeclaration',
            'ExportNamedDeclaration > TSTypeAliasDeclaration',
            'ExportNamedDeclaration > VariableDeclaration',
            'ExportNamedDeclaration > TSEnumDeclaration',
          ],
        },
      ],
    },
  },
);
