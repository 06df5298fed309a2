import type { Argv } from 'yargs';
import { mergeLabels } from '../algorithm/merge-labels.js';

export function mergeLabelsCommand(y: Argv) {
  return y.command('merge-labels <shards..>', 'Join the outputs of a sharded pseudo-label job into one file and one meta, after checking they belong together',
    (a) => a
      .positional('shards', { type: 'string', array: true, demandOption: true, describe: 'the files pseudo-label --shard i/N wrote (each with its .meta.json beside it), in any order' })
      .option('out', { type: 'string', demandOption: true, describe: 'merged file to write (same format as the shards), with OUT.meta.json' })
      .example('$0 merge-labels labels-*.csv --out labels.csv', 'after pseudo-label --shard 0/8 … 7/8')
      .epilogue('Refused (exit 2, one line): shards of different models, inputs or settings; a file changed after it was written; ' +
        'a missing shard (items no file covers) or an overlapping one.'),
    (a) => {
      const meta = mergeLabels(a.shards as string[], a.out);
      const c = meta.counts;
      console.log(`${a.out}: ${c.rows} rows from ${meta.merged_from!.length} shards covering all ${meta.input.items} items of ` +
        `${meta.input.spec}; ${c.accepted} accepted, ${c.rejected} below τ ${meta.threshold}, ${c.unreadable} unreadable`);
    });
}
