// `npm start`: code-server on loopback with Prune Lens loaded from this checkout and a
// sample workspace of the shared models, until Ctrl-C. State (settings, the workspace and
// anything pruned in it) lives in .cache/start/ and .cache/sample-workspace/ and survives
// restarts; delete those folders for a fresh start. PORT=8080 npm start picks the port.
import * as path from 'node:path';
import { developmentPayload, repoRoot, startCodeServer } from './codeServer';
import { createSampleWorkspace } from './sampleWorkspace';

async function main(): Promise<void> {
  const workspace = path.join(repoRoot, '.cache/sample-workspace');
  createSampleWorkspace(workspace);
  const server = await startCodeServer({
    stateDir: path.join(repoRoot, '.cache/start'),
    workspace,
    port: Number(process.env.PORT ?? 0),
  });
  let stopping = false;
  void server.exited.then((code) => {
    if (stopping) return;
    console.error(`code-server exited unexpectedly (code ${code}); its log: ${server.logFile}`);
    process.exit(1);
  });
  const stop = () => {
    stopping = true;
    console.log('\nstopping code-server');
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  console.log(`Prune Lens in code-server (workspace ${path.relative(process.cwd(), workspace)}/, log ${path.relative(process.cwd(), server.logFile)})`);
  console.log('\nOpen this URL in a browser (Ctrl-C stops the server):\n');
  console.log(`  ${server.workbenchUrl([developmentPayload(server)])}\n`);
}

main().catch((err) => {
  console.error(`npm start: ${(err as Error).message}`);
  process.exit(1);
});
