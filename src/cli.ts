#!/usr/bin/env node
// The `hardway` command-line tool (`npm run hardway -- render -f config/samples/`).
import { hardway } from './cli/hardway.ts';

process.exit(hardway(process.argv.slice(2)));
