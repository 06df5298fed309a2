#!/usr/bin/env node
// ssmae's command line: each command lives in its own file; this one wires them and maps errors to exit codes.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { lastFlagWins } from './args.js';
import { reportError } from './errors.js';
import { exportCommand } from './export.js';
import { trainCommand } from './train.js';
import { evalCommand } from './eval.js';
import { pseudoLabelCommand } from './pseudo-label.js';
import { exportModelCommand } from './export-model.js';
import { checkCommand } from './check.js';
import { reportCommand } from './report.js';
import { mergeLabelsCommand } from './merge-labels.js';
import { exportWeightsCommand } from './export-weights.js';
import { embedCommand } from './embed.js';
import { TOOL_VERSION } from '../artifacts/version.js';

const VARIADIC_COMMANDS = new Set(['merge-labels']);

async function main(): Promise<void> {
  const args = lastFlagWins(hideBin(process.argv));
  let y = yargs(args)
    .scriptName('ssmae')
    .usage('$0 <command> [options]\n\nTrain Vision Transformers with few labels and many unlabeled images (Semi-Supervised MAE).')
    .version(TOOL_VERSION)
    .strict()
    // A flag given twice takes its last value (as in most CLIs; lastFlagWins drops the earlier ones), instead of
    // becoming an array no option expects. yargs applies that setting to variadic positionals too (`merge-labels
    // a b c` would see only c), so commands that take a list of files keep yargs' default; their flags are still
    // de-duplicated by lastFlagWins.
    .parserConfiguration({ 'duplicate-arguments-array': VARIADIC_COMMANDS.has(args[0]) })
    .demandCommand(1, 'choose a command; see --help')
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (err) throw err;
      console.error(`ssmae: error: ${msg}\nRun with --help for the options.`);
      process.exit(2);
    });
  y = exportCommand(y);
  y = trainCommand(y);
  y = evalCommand(y);
  y = pseudoLabelCommand(y);
  y = mergeLabelsCommand(y);
  y = exportModelCommand(y);
  y = checkCommand(y);
  y = reportCommand(y);
  y = exportWeightsCommand(y);
  y = embedCommand(y);
  await y.parseAsync();
}

main().catch(reportError);
