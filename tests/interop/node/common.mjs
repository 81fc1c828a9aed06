// Connection options for Node BullMQ from a redis:// URL and a key prefix; for a
// redis+cluster://host:port,host:port/ URL, an ioredis Cluster (closed by closeAll()).
import { Cluster } from 'ioredis';

const clusters = [];

export function connection(url) {
  if (url.startsWith('redis+cluster://')) {
    const hosts = url.slice('redis+cluster://'.length).split(/[/?]/)[0].split(',');
    const nodes = hosts.map((h) => {
      const at = h.lastIndexOf(':');
      return { host: h.slice(0, at), port: Number(h.slice(at + 1)) };
    });
    const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
    clusters.push(cluster);
    return cluster;
  }
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number((u.pathname || '/0').slice(1) || 0),
    maxRetriesPerRequest: null,
  };
}

export async function closeAll() {
  await Promise.all(clusters.map((c) => c.quit()));
}
