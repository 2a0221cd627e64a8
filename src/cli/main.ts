/** The `medtune` command line. One file per command lives beside this one. */
import { Command, CommanderError } from 'commander';
import { MedtuneError } from '../tensor/errors.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerTrain } from './train.js';
import { registerEvaluate } from './evaluate.js';
import { registerDeid } from './deid.js';

const program = new Command();
program
  .name('medtune')
  .description('Fine-tune, evaluate and serve biomedical BERT classifiers, offline, in TypeScript.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerDemo(program);
registerTrain(program);
registerEvaluate(program);
registerDeid(program);
registerPredict(program);
registerBench(program);
registerInfo(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (e instanceof MedtuneError) {
    process.stderr.write(`medtune: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
