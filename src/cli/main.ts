/**
 * The `medtune` command line. One file per command lives beside this one. Every error a user can hit ends here
 * as exactly one line on stderr, `medtune: <message> (<CODE>)`, and the exit code of its catalogue entry
 * (2 for user-facing errors, 1 for internal bugs, 130/143 after Ctrl-C/SIGTERM). MEDTUNE_DEBUG=1 adds the stack.
 */
import { Command, CommanderError } from 'commander';
import { MedtuneError } from '../common/errors.js';
import { installSignalHandlers } from '../common/cleanup.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerTrain } from './train.js';
import { registerEvaluate } from './evaluate.js';
import { registerDeid } from './deid.js';
import { registerCurate } from './curate.js';
import { registerClean } from './clean.js';
import { registerAugment } from './augment.js';
import { registerPretrain } from './pretrain.js';

const program = new Command();
program
  .name('medtune')
  .description('Fine-tune, evaluate and serve biomedical BERT classifiers, offline, in TypeScript.')
  .version('0.1.0')
  .exitOverride()
  // commander's own error text is replaced by our one-line form in the catch below
  .configureOutput({ outputError: () => {} });

registerDemo(program);
registerTrain(program);
registerEvaluate(program);
registerDeid(program);
registerPredict(program);
registerCurate(program);
registerClean(program);
registerAugment(program);
registerPretrain(program);
registerBench(program);
registerInfo(program);
for (const c of program.commands) c.exitOverride().configureOutput({ outputError: () => {} });

installSignalHandlers();

function fail(line: string, exit: number, e?: unknown): never {
  process.stderr.write(`medtune: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
  if (process.env.MEDTUNE_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  process.exit(exit);
}

/** The subcommand named on the command line, for the `--help` hint of a usage error. */
function commandName(): string {
  const name = process.argv.slice(2).find((a) => !a.startsWith('-'));
  return name && program.commands.some((c) => c.name() === name) ? ` ${name}` : '';
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
    if (e.code === 'commander.executeSubCommandAsync' || e.code === 'commander.help') process.exit(e.exitCode);
    fail(`${e.message.replace(/^error:\s*/i, '')}; see \`medtune${commandName()} --help\` (E_USAGE)`, 2, e);
  }
  if (e instanceof MedtuneError) fail(`${e.message} (${e.code})`, e.exitCode, e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  fail(`internal error: ${msg}. This is a bug; please report it with the command line (MEDTUNE_DEBUG=1 shows the stack) (E_INTERNAL)`, 1, e);
}
