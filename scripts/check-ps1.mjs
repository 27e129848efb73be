// Syntax check of PowerShell scripts with tree-sitter's PowerShell grammar
// (PowerShell itself has no package on the registries this project's CI
// reaches). Prints each parse error as file:line:column; exit status 1 if
// any file has one. Run by .ci/run from a directory where
// `tree-sitter` and `tree-sitter-powershell` are installed.
import fs from 'node:fs';
import Parser from 'tree-sitter';
import PowerShell from 'tree-sitter-powershell';

const parser = new Parser();
parser.setLanguage(PowerShell);

function errors(node, out) {
    if (node.type === 'ERROR' || node.isMissing) {
        out.push(node);
        return out;
    }
    for (const child of node.children) {
        errors(child, out);
    }
    return out;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
    const tree = parser.parse(fs.readFileSync(file, 'utf8'));
    const found = errors(tree.rootNode, []);
    for (const e of found) {
        const { row, column } = e.startPosition;
        const what = e.isMissing ? `missing ${e.type}` : `syntax error near '${e.text.slice(0, 40)}'`;
        console.log(`${file}:${row + 1}:${column + 1}: ${what}`);
    }
    if (found.length) {
        failed++;
    } else {
        console.log(`${file}: parses`);
    }
}
process.exit(failed ? 1 : 0);
