#!/usr/bin/env node
// A stand-in for the native `solc` command line on top of solc-js, for tools that run a solc
// binary (forge): `--version` and `--standard-json` (input on stdin), the only two they use.
// Both tools inline every source in the standard-JSON input; an import that is not inline is
// read from disk relative to the working directory.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes("--standard-json")) {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (input += chunk));
  process.stdin.on("end", () => {
    const findImports = (p) => {
      try {
        return { contents: fs.readFileSync(path.resolve(p), "utf8") };
      } catch (e) {
        return { error: `file not found: ${p}` };
      }
    };
    process.stdout.write(solc.compile(input, { import: findImports }));
  });
} else {
  process.stderr.write("solc-cli.cjs: only --version and --standard-json are supported (solc-js stands in for solc)\n");
  process.exit(1);
}
