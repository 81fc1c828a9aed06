// Node worker: runs jobs a qgen client added, one at a time, until <count> jobs are finished
// (completed or failed for good); prints the processing log as one JSON line.
// A job fails while attemptsMade < data.fail_times.
// usage: node work.mjs <redis-url> <prefix> <queue> <count>
import { Worker } from 'bullmq';
import { closeAll, connection } from './common.mjs';

const [url, prefix, queueName, countText] = process.argv.slice(2);
const log = [];
let finished = 0;
const done = new Promise((resolve) => {
  const worker = new Worker(
    queueName,
    async (job) => {
      log.push({ id: job.id, n: job.data.n, attemptsMade: job.attemptsMade, at: Date.now(),
                 priority: job.priority, attempts: job.opts.attempts });
      if (job.attemptsMade < (job.data.fail_times || 0)) {
        throw new Error(`planned failure ${job.attemptsMade + 1}`);
      }
      return { n: job.data.n, by: 'node' };
    },
    { connection: connection(url), prefix, concurrency: 1, autorun: false },
  );
  const finish = () => {
    finished += 1;
    if (finished >= Number(countText)) resolve(worker);
  };
  worker.on('completed', finish);
  worker.on('failed', (job) => {
    if (job && job.attemptsMade >= (job.opts.attempts || 1)) finish();
  });
  console.error('ready');
  worker.run();
});
const worker = await done;
await worker.close();
console.log(JSON.stringify(log));
await closeAll();
