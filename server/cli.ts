#!/usr/bin/env node
/**
 * The `scimbridge` command (the package's bin): each command is a module under ./cli/, wired in
 * ./cli/program.ts. Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error, 3 drift.
 */
import { guardPipes } from "./cli/io.js";
import { run } from "./cli/program.js";

guardPipes();
void run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
