// The few pieces of shared state BullMQ has no mechanism for, kept in plain Redis keys: an
// admission lock (per-user limits, the queue cap, job numbers and fairness rounds must be decided
// as one step even with several bot processes), the fairness round being served, and the table of
// active jobs that limits, positions and ETAs are read from.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { redisKeys, type ActiveEntry } from './protocol.ts';

const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RAISE_ROUND = `local c = tonumber(redis.call('get', KEYS[1]) or '0') if tonumber(ARGV[1]) > c then redis.call('set', KEYS[1], ARGV[1]) end return 1`;

export async function withAdmissionLock<T>(redis: Redis, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + timeoutMs;
  // The lock expires by itself, so a bot that dies holding it blocks others for 10 s at most.
  while (!(await redis.set(redisKeys.admissionLock, token, 'PX', 10_000, 'NX'))) {
    if (Date.now() > deadline) throw new Error('Could not take the admission lock in Redis (another bot process holds it).');
    await sleep(5);
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE_LOCK, 1, redisKeys.admissionLock, token);
  }
}

export async function readActive(redis: Redis): Promise<Map<string, ActiveEntry>> {
  const raw = await redis.hgetall(redisKeys.active);
  const out = new Map<string, ActiveEntry>();
  for (const [id, json] of Object.entries(raw)) out.set(id, JSON.parse(json) as ActiveEntry);
  return out;
}

export async function writeActive(redis: Redis, entry: ActiveEntry): Promise<void> {
  await redis.hset(redisKeys.active, entry.id, JSON.stringify(entry));
}

export async function removeActive(redis: Redis, id: string): Promise<void> {
  await redis.hdel(redisKeys.active, id);
}

export async function currentRound(redis: Redis): Promise<number> {
  return Number((await redis.get(redisKeys.round)) ?? 0);
}

/** Rounds only move forward: a started job's round becomes the one being served. */
export async function raiseRound(redis: Redis, round: number): Promise<void> {
  await redis.eval(RAISE_ROUND, 1, redisKeys.round, String(round));
}

export async function nextSeq(redis: Redis): Promise<number> {
  return redis.incr(redisKeys.seq);
}
