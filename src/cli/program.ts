/**
 * The `medtune` program and the one place its errors become output: exactly one line on stderr,
 * `medtune: <message> (<CODE>)`, and the exit code of the code's catalogue entry (2 for user-facing errors,
 * 1 for internal bugs). MEDTUNE_DEBUG=1 adds the stack. `runCli` never exits the process, so tests can run
 * commands in-process; bin/medtune.js → main.ts exits with its result.
 */
import { Command, CommanderError } from 'commander';
import { MedtuneError } from '../common/errors.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerTrain } from './train.js';
import { registerEvaluate } from './evaluate.js';
import { registerDeid } from './deid.js';
import { registerServe } from './serve.js';
import { registerCalibrate } from './calibrate.js';
import { registerExplain } from './explain.js';
import { registerReview } from './review.js';
import { registerCurate } from './curate.js';
import { registerClean } from './clean.js';
import { registerAugment } from './augment.js';
import { registerPretrain } from './pretrain.js';
import { registerReport } from './report.js';
import { registerAudit } from './audit.js';
import { registerCard } from './card.js';
import { registerTune } from './tune.js';
import { registerData } from './data.js';
import { registerQuantize } from './quantize.js';
import { registerExport } from './export.js';
import { registerModels } from './models.js';
import { registerWorker } from './worker.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('medtune')
    .description('Fine-tune, evaluate and serve biomedical BERT classifiers, offline, in TypeScript.')
    .version('0.1.0')
    .enablePositionalOptions(); // options after a subcommand belong to it (`tune worker --queue`)
  registerDemo(program);
  registerTrain(program);
  registerEvaluate(program);
  registerDeid(program);
  registerPredict(program);
  registerData(program);
  registerCurate(program);
  registerClean(program);
  registerAugment(program);
  registerPretrain(program);
  registerTune(program);
  registerWorker(program);
  registerServe(program);
  registerCalibrate(program);
  registerExplain(program);
  registerReview(program);
  registerModels(program);
  registerReport(program);
  registerAudit(program);
  registerCard(program);
  registerQuantize(program);
  registerExport(program);
  registerBench(program);
  registerInfo(program);
  // commander's own error text is replaced by the one-line form below, on every (sub)command
  const quiet = (c: Command) => {
    c.exitOverride().configureOutput({ outputError: () => {} });
    c.commands.forEach(quiet);
  };
  quiet(program);
  return program;
}

/** The subcommand path named on the command line (e.g. " train"), for the `--help` hint of a usage error. */
function commandPath(program: Command, args: string[]): string {
  const names: string[] = [];
  let c: Command | undefined = program;
  for (const a of args) {
    if (a.startsWith('-')) break;
    c = c.commands.find((x) => x.name() === a);
    if (!c) break;
    names.push(a);
  }
  return names.length ? ` ${names.join(' ')}` : '';
}

/** The one-line message and exit code for anything a command threw. */
export function errorLine(e: unknown, hintCommand = ''): { line: string; exit: number } {
  if (e instanceof CommanderError) {
    return {
      line: `${e.message
        .replace(/^error:\s*/i, '')
        .replace(/\s*\n\s*/g, ' ')
        .replace(/\.$/, '')}; see \`medtune${hintCommand} --help\` (E_USAGE)`,
      exit: 2,
    };
  }
  if (e instanceof MedtuneError)
    return { line: `${e.message.replace(/\s*\n\s*/g, ' ')} (${e.code})`, exit: e.exitCode };
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return {
    line:
      `internal error: ${msg}. This is a bug; ` +
      'please report it with the command line (MEDTUNE_DEBUG=1 shows the stack) (E_INTERNAL)',
    exit: 1,
  };
}

/** Runs the CLI on argv (as process.argv: node, script, args...) and returns the exit code. */
export async function runCli(
  argv: string[],
  stderr: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `medtune` alone prints the help (to stderr): a usage error for us, with the one line after it
      if (e.code === 'commander.help') {
        stderr('medtune: no command given; see `medtune --help` (E_USAGE)\n');
        return 2;
      }
    }
    const { line, exit } = errorLine(e, commandPath(program, argv.slice(2)));
    stderr(`medtune: ${line}\n`);
    if (process.env.MEDTUNE_DEBUG && e instanceof Error && e.stack) stderr(e.stack + '\n');
    return exit;
  }
}
