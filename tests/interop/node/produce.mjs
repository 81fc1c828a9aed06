// Node producer: adds jobs to a qgen queue, waits for each to finish, prints what Node reads
// back (return values and progress) as one JSON line.
// usage: node produce.mjs <redis-url> <prefix> <queue> <count>
import { Queue, QueueEvents, Job } from 'bullmq';
import { closeAll, connection } from './common.mjs';

const [url, prefix, queueName, countText] = process.argv.slice(2);
const opts = { connection: connection(url), prefix };
const queue = new Queue(queueName, opts);
const events = new QueueEvents(queueName, opts);
await events.waitUntilReady();

const jobs = [];
for (let i = 0; i < Number(countText); i++) {
  jobs.push(await queue.add(queueName, { n: i }));
}
const results = [];
for (const job of jobs) {
  const value = await job.waitUntilFinished(events, 30000);
  const fresh = await Job.fromId(queue, job.id);
  results.push({ id: job.id, returnvalue: value, progress: fresh.progress, state: await fresh.getState() });
}
console.log(JSON.stringify(results));
await events.close();
await queue.close();
await closeAll();
