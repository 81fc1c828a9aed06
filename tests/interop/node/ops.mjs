// Node BullMQ's view of a qgen queue, and its operator calls (qgen's operator API interop).
// usage: node ops.mjs <redis-url> <prefix> <queue> <command>
//   pause | resume   Queue.pause() / Queue.resume(), then the state below
//   state            {paused, counts, workers: raw client names from Queue.getWorkers()}
//   add              adds three jobs as a plain Node producer: {n: 1} without options (BullMQ's
//                    wait list), {n: 2} with priority 3, {n: 3} delayed by 60 s; prints their ids
// Prints one JSON line.
import { Queue } from 'bullmq';
import { connection } from './common.mjs';

const [url, prefix, queueName, command] = process.argv.slice(2);
const queue = new Queue(queueName, { connection: connection(url), prefix });

async function state() {
  const workers = await queue.getWorkers();
  return {
    paused: await queue.isPaused(),
    counts: await queue.getJobCounts(),
    workers: workers.map((w) => w.rawname).sort(),
  };
}

let out;
if (command === 'pause') {
  await queue.pause();
  out = await state();
} else if (command === 'resume') {
  await queue.resume();
  out = await state();
} else if (command === 'state') {
  out = await state();
} else if (command === 'add') {
  const plain = await queue.add(queueName, { n: 1 });
  const urgent = await queue.add(queueName, { n: 2 }, { priority: 3 });
  const later = await queue.add(queueName, { n: 3 }, { delay: 60000 });
  out = { plain: plain.id, urgent: urgent.id, later: later.id };
} else {
  throw new Error(`unknown command ${command}`);
}
console.log(JSON.stringify(out));
await queue.close();
