/** Entry point of the `medtune` command (bin/medtune.js): signal handling, then the program, then its exit code. */
import { installSignalHandlers } from '../common/cleanup.js';
import { runCli } from './program.js';

installSignalHandlers();
process.exit(await runCli(process.argv));
