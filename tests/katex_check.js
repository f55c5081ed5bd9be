// Renders every formula of the Markdown documents given as arguments with
// KaTeX in strict mode; prints each failure and exits 1 if there is one.
// Used by tests/documents.rs (NNDERIVE_KATEX names the folder holding katex).
const path = require('path');
const home = process.env.NNDERIVE_KATEX;
const katex = require(home ? path.resolve(home, 'node_modules', 'katex') : 'katex');
const fs = require('fs');
let failed = 0;
let total = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  const display = [...text.matchAll(/\$\$\n([\s\S]*?)\n\$\$/g)].map((m) => [m[1], true]);
  const prose = text.replace(/\$\$\n[\s\S]*?\n\$\$/g, '');
  const inline = [...prose.matchAll(/\$([^$\n]+)\$/g)].map((m) => [m[1], false]);
  for (const [source, displayMode] of display.concat(inline)) {
    total += 1;
    try {
      katex.renderToString(source, { displayMode, throwOnError: true, strict: 'error' });
    } catch (e) {
      failed += 1;
      console.log(`${file}: ${e.message}`);
    }
  }
}
console.log(`${total} formulas, ${failed} failed`);
process.exit(failed === 0 && total > 0 ? 0 : 1);
