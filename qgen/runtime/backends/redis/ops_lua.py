"""qgen's own Lua scripts for the operator API on Redis, where BullMQ has no script for the step.

Everything BullMQ has a script for goes through BullMQ's (getCounts, pause, reprocessJob,
removeJob, cleanJobsInSet, updateData: :mod:`.scripts`). These few add what qgen keeps beside
BullMQ's own keys, and never change a BullMQ key in a way BullMQ would not:

- ``qgenCancel``: a waiting or delayed job moves to BullMQ's ``failed`` set (as Node's
  ``job.moveToFailed`` leaves it: ``finishedOn``, ``failedReason``, a ``failed`` event) marked
  cancelled; an active job gets a cancel request (the ``qgcr`` field) for its worker, and its
  id goes to the queue's cancel-request stream, which the worker follows (``QueueKeys.
  cancel_requests``; its lock extensions read ``qgcr`` too, should the stream be missed).
- ``qgenAskedToCancel``: which of the jobs a worker holds carry a cancel request (read with
  every lock extension).
- ``qgenMark`` / ``qgenUnmark``: the per-queue sets of failed jobs that are discarded or
  cancelled (so they count and list apart), and their clearing when a job is retried.
- ``qgenSubsets``: how many of a queue's failed jobs are discarded and cancelled (``ZINTERCARD``
  where the server has it), pruning ids the failed set no longer holds once they pile up
  (BullMQ's retention removes jobs without knowing the sets).
- ``qgenPage``: one page of a time-scored sorted set (completed, failed, delayed, the marked
  sets), newest first after a keyset cursor.
- ``qgenPageByField``: one chunk of jobs in a list or sorted set not scored by time (waiting,
  active) below a cursor, with a field of each job's hash; read chunk by chunk, so Redis is
  never held for long.
"""

from __future__ import annotations

from qgen.runtime.backends.redis.scripts import register

_CANCEL = """
local jobKey, id, now = KEYS[7], ARGV[1], ARGV[2]
if redis.call("EXISTS", jobKey) == 0 then return -1 end
local prev = nil
if redis.call("ZREM", KEYS[3], id) == 1 then prev = "waiting"
elseif redis.call("ZREM", KEYS[4], id) == 1 then prev = "delayed"
elseif redis.call("LREM", KEYS[1], 0, id) > 0 then prev = "waiting"
elseif redis.call("LREM", KEYS[2], 0, id) > 0 then prev = "waiting"
end
if prev then
  redis.call("HSET", jobKey, "finishedOn", now, "failedReason", ARGV[3], "qge", ARGV[4],
             "qgc", "1")
  redis.call("ZADD", KEYS[6], now, id)
  redis.call("ZADD", KEYS[8], now, id)
  local maxEvents = redis.call("HGET", KEYS[10], "opts.maxLenEvents") or 10000
  redis.call("XADD", KEYS[9], "MAXLEN", "~", maxEvents, "*", "event", "failed", "jobId", id,
             "failedReason", ARGV[3], "prev", prev)
  return 1
end
if redis.call("LPOS", KEYS[5], id) then
  redis.call("HSET", jobKey, "qgcr", ARGV[5])
  redis.call("XADD", KEYS[11], "MAXLEN", "~", 1000, "*", "jobId", id)
  return 2
end
return 0
"""

_ASKED_TO_CANCEL = """
local out = {}
for i = 1, #KEYS do
  if redis.call("HEXISTS", KEYS[i], "qgcr") == 1 then out[#out + 1] = ARGV[i] end
end
return out
"""

# Sent just before BullMQ's moveToFinished of the same job in the same pipeline: marks it only
# while this worker holds its lock (KEYS[2], the token in ARGV[3]), as moveToFinished checks.
_MARK = """
if redis.call("GET", KEYS[2]) ~= ARGV[3] then return 0 end
return redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
"""

_UNMARK = """
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) then return 0 end
redis.call("HDEL", KEYS[2], "qgd", "qgc", "qge", "qgcr", "defa", "stc")
redis.call("ZREM", KEYS[3], ARGV[1])
redis.call("ZREM", KEYS[4], ARGV[1])
return 1
"""

# ZINTERCARD (Redis 7) counts in C; older servers walk the set. A set that holds many more ids
# than the failed set still has (BullMQ's retention removed them) is pruned, keeping scores.
_SUBSETS = """
local out = {}
for k = 2, #KEYS do
  local ok, n = pcall(redis.call, "ZINTERCARD", 2, KEYS[1], KEYS[k])
  if not ok then
    n = 0
    for _, id in ipairs(redis.call("ZRANGE", KEYS[k], 0, -1)) do
      if redis.call("ZSCORE", KEYS[1], id) then n = n + 1 end
    end
  end
  if redis.call("ZCARD", KEYS[k]) > 2 * n + 100 then
    redis.call("ZINTERSTORE", KEYS[k], 2, KEYS[k], KEYS[1], "WEIGHTS", 1, 0)
  end
  out[#out + 1] = n
end
return out
"""

# Byte order of two ids (the tie-break of the paging scripts, as Python compares str).
_LT = """
local function lt(a, b)
  local la, lb = #a, #b
  for i = 1, math.min(la, lb) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end
"""

# KEYS[1] the sorted set, KEYS[2] failed (mode "within": only its members), KEYS[3..4] the
# marked sets (mode "exclude": none of their members). ARGV: mode, cursor score ("+inf" for
# the first page), cursor id ("" for none), how many, how many to look at at most.
# Returns {id, score, id, score, ...} and, when it stopped at the look-at bound, a last pair
# that is only a cursor: {..., "", "<score>", "<id>"}.
_PAGE = (
    _LT
    + """
local key, mode, top, after, want, cap = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]),
  tonumber(ARGV[5])
local out, n, seen = {}, 0, 0
local function ok(id)
  if mode == "within" then return redis.call("ZSCORE", KEYS[2], id) ~= false end
  if mode == "exclude" then
    return not redis.call("ZSCORE", KEYS[3], id) and not redis.call("ZSCORE", KEYS[4], id)
  end
  return true
end
local function take(id, score)
  seen = seen + 1
  if ok(id) then
    out[#out + 1] = id
    out[#out + 1] = score
    n = n + 1
  end
end
local upper = top
if after ~= "" then
  local ties = redis.call("ZRANGEBYSCORE", key, top, top)
  for i = #ties, 1, -1 do
    if lt(ties[i], after) then take(ties[i], top) end
    if n >= want then return out end
  end
  upper = "(" .. top
end
local offset = 0
while seen < cap do
  local batch = redis.call("ZREVRANGEBYSCORE", key, upper, "-inf", "WITHSCORES", "LIMIT",
    offset, 500)
  if #batch == 0 then return out end
  for i = 1, #batch, 2 do
    take(batch[i], batch[i + 1])
    if n >= want then return out end
    if seen >= cap then
      out[#out + 1] = ""
      out[#out + 1] = batch[i + 1] .. " " .. batch[i]
      return out
    end
  end
  offset = offset + #batch / 2
end
return out
"""
)

# One chunk of a list or sorted set of job ids not scored by time (waiting, active): its jobs
# below the cursor with the time a field of each job's hash holds (the caller picks the newest;
# ties by id). KEYS[1]: the list or sorted set. ARGV: job key prefix, the field (ms), cursor
# time ("" for the first page), cursor id, "list" or "zset", where to start (list: an index
# from the head; sorted set: "-inf" or "(<score>" after the last one read), chunk size.
# Returns {next start or "" at the end, id, time, id, time, ...}. A list is read from its head
# (new jobs are pushed there, workers pop the tail: nothing shifts past the reader); a sorted
# set by score (a job taken meanwhile shifts no rank).
_PAGE_BY_FIELD = (
    _LT
    + """
local prefix, field, after = ARGV[1], ARGV[2], ARGV[4]
local cursor, kind, from, size = tonumber(ARGV[3]), ARGV[5], ARGV[6], tonumber(ARGV[7])
local ids, nxt = {}, ""
if kind == "list" then
  local start = tonumber(from)
  ids = redis.call("LRANGE", KEYS[1], start, start + size - 1)
  if #ids == size then nxt = tostring(start + size) end
else
  local got = redis.call("ZRANGEBYSCORE", KEYS[1], from, "+inf", "WITHSCORES", "LIMIT", 0, size)
  for i = 1, #got, 2 do ids[#ids + 1] = got[i] end
  if #got == 2 * size then nxt = "(" .. got[#got] end
end
local out = {nxt}
for _, id in ipairs(ids) do
  local t = redis.call("HGET", prefix .. id, field) or "0"
  local n = tonumber(t) or 0
  if cursor == nil or n < cursor or (n == cursor and lt(id, after)) then
    out[#out + 1] = id
    out[#out + 1] = t
  end
end
return out
"""
)

_SOURCES = {
    "qgenCancel": _CANCEL,
    "qgenAskedToCancel": _ASKED_TO_CANCEL,
    "qgenMark": _MARK,
    "qgenUnmark": _UNMARK,
    "qgenSubsets": _SUBSETS,
    "qgenPage": _PAGE,
    "qgenPageByField": _PAGE_BY_FIELD,
}
NAMES = tuple(_SOURCES)
for _name, _source in _SOURCES.items():
    register(_name, _source)
