#!/usr/bin/env node
'use strict';
// The compiled CLI lives in dist/ (npm run build).
const { runCli } = require('../dist/src/cli/main.js');

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`error: ${err && err.message ? err.message : err}\n`);
    process.exitCode = 1;
  },
);
