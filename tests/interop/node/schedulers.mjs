// Node BullMQ job schedulers on a qgen queue: upsert one, or list them (one JSON line).
// usage: node schedulers.mjs <redis-url> <prefix> <queue> upsert <id> <every-ms> <data-json>
//        node schedulers.mjs <redis-url> <prefix> <queue> list
import { Queue } from 'bullmq';
import { connection } from './common.mjs';

const [url, prefix, queueName, action, id, every, data] = process.argv.slice(2);
const queue = new Queue(queueName, { connection: connection(url), prefix });
if (action === 'upsert') {
  const job = await queue.upsertJobScheduler(id, { every: Number(every) }, {
    name: queueName,
    data: JSON.parse(data),
  });
  console.log(JSON.stringify({ id: job.id }));
} else {
  const found = await queue.getJobSchedulers(0, -1, true);
  console.log(JSON.stringify(found.map((s) => ({
    key: s.key, every: s.every ?? null, pattern: s.pattern ?? null, tz: s.tz ?? null,
    next: s.next, data: s.template?.data ?? null,
  }))));
}
await queue.close();
