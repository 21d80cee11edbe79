// Compiles a solc standard-JSON input read from stdin with solc-js (WebAssembly, offline) and
// prints the standard-JSON output. `--version` prints the compiler's version.
// The Python side (chain/compiler.py) resolves every import itself and passes all sources
// inline, so solc-js and a native solc see the same input and produce the same bytecode.
const solc = require("solc");

if (process.argv.includes("--version")) {
  process.stdout.write(solc.version());
} else {
  let input = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (input += chunk));
  process.stdin.on("end", () => process.stdout.write(solc.compile(input)));
}
