// Node producer with BullMQ's telemetry on: adds one job (data: a JSON argument) and prints the
// producer span's ids and the job id as one JSON line.
// usage: node produce_traced.mjs <redis-url> <prefix> <queue> <data-json>
import { Queue } from 'bullmq';
import { connection } from './common.mjs';
import { makeTelemetry } from './telemetry.mjs';

const [url, prefix, queueName, dataText] = process.argv.slice(2);
const { telemetry, record } = makeTelemetry();
const queue = new Queue(queueName, { connection: connection(url), prefix, telemetry });
const job = await queue.add(queueName, JSON.parse(dataText));
await queue.close();
const [span] = record.spans;
console.log(JSON.stringify({ id: job.id, traceId: span.traceId, spanId: span.spanId }));
