// Lint the app and its tests: typescript-eslint's recommended rules, plus a ban on injecting HTML.
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "src/api/schema.d.ts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "error",
      // Data is rendered as text only: never through innerHTML or its JSX escape hatch.
      "no-restricted-properties": ["error",
        { property: "innerHTML", message: "Render data as text." },
        { property: "outerHTML", message: "Render data as text." }],
      "no-restricted-syntax": ["error",
        { selector: "JSXAttribute[name.name='dangerouslySetInnerHTML']", message: "Render data as text." }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
