// Node worker with BullMQ's telemetry on: runs <count> jobs, then prints the propagation
// metadata BullMQ handed its context manager and the consumer spans, as one JSON line.
// usage: node work_traced.mjs <redis-url> <prefix> <queue> <count>
import { Worker } from 'bullmq';
import { connection } from './common.mjs';
import { makeTelemetry } from './telemetry.mjs';

const [url, prefix, queueName, countText] = process.argv.slice(2);
const { telemetry, record } = makeTelemetry();
const ids = [];
const worker = await new Promise((resolve) => {
  const w = new Worker(
    queueName,
    async (job) => {
      ids.push(job.id);
      return { by: 'node' };
    },
    { connection: connection(url), prefix, concurrency: 1, telemetry },
  );
  w.on('completed', () => {
    if (ids.length >= Number(countText)) resolve(w);
  });
});
await worker.close();
const spans = record.spans.filter((s) => s.name.startsWith('process'));
console.log(JSON.stringify({ ids, received: record.received, spans }));
