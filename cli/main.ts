/**
 * The `ciclo` command. Parses the environment once into config, builds the command tree, and turns an
 * expected failure (CicloError) into one readable line and exit code 1; anything else prints its stack.
 */
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { loadConfig, type CicloConfig } from '../infra/config';
import { CicloError } from '../infra/errors';
import { redactUrlsIn } from '../infra/url-credentials';
import { registerStackCommands } from './commands/stack';
import { registerDemoCommand } from './commands/demo';
import { registerTopicsCommands } from './commands/topics';
import { registerClvCommands } from './commands/clv';
import { registerMigrateCommand } from './commands/migrate';
import { registerProjectCommand } from './commands/project';
import { registerReportCommand } from './commands/report';
import { registerDlqCommands } from './commands/dlq';
import { registerLifecycleCommands } from './commands/lifecycle';
import { registerProcessCommand } from './commands/process';
import { registerCollectCommand } from './commands/collect';
import { registerImportCommand } from './commands/import';
import { registerSimulateCommand } from './commands/simulate';
import { registerDashboardCommand } from './commands/dashboard';
import { registerStatusCommand } from './commands/status';
import { registerForgetCommand } from './commands/forget';

export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

export function buildProgram(getConfig: () => CicloConfig): Command {
  const program = new Command('ciclo')
    .description('Customer lifecycle management on Kafka and ClickHouse')
    .showHelpAfterError()
    .exitOverride();
  registerStackCommands(program, getConfig);
  registerTopicsCommands(program, getConfig);
  registerClvCommands(program, getConfig);
  registerMigrateCommand(program, getConfig);
  registerProjectCommand(program, getConfig);
  registerReportCommand(program, getConfig);
  registerDlqCommands(program, getConfig);
  registerForgetCommand(program, getConfig);
  registerLifecycleCommands(program, getConfig);
  registerProcessCommand(program, getConfig);
  registerCollectCommand(program, getConfig);
  registerImportCommand(program, getConfig);
  registerSimulateCommand(program, getConfig);
  registerDemoCommand(program, getConfig);
  registerDashboardCommand(program, getConfig);
  registerStatusCommand(program, getConfig);
  return program;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let config: CicloConfig | undefined;
  const getConfig = (): CicloConfig => (config ??= loadConfig(env, PROJECT_ROOT));
  const program = buildProgram(getConfig);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof CicloError) {
      // A client's error may quote an endpoint with its password: every URL is shown without one.
      process.stderr.write(`ciclo: ${redactUrlsIn(err.message)}\n`);
      return 1;
    }
    throw err;
  }
}
