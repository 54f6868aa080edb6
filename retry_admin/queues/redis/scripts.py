"""The Redis transport's Lua scripts: each operation is one script, so Redis
runs it atomically and no two workers can interleave inside it.

Every script gets the same keys (``KEYS``, see ``queue.KEY_NAMES``) and reads
the clock of the Redis server, so workers on hosts whose clocks differ agree
on what is due. Times are milliseconds since the epoch. Handles arrive as
``id, receipt`` pairs in ``ARGV``; a pair whose entry is not in flight under
that receipt (acked, redelivered to another worker, dead-lettered) is left
alone.
"""

PRELUDE = """
local READY, INFLIGHT, RETRY, DEAD = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local BODY, RECEIVES, RECEIPT, RETRIES = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local DUE, REASON, KEYOF, RETRYKEYS, SEQ = KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- What identifies a message for de-duplication on the retry queue: the
-- message_id of a JSON object body (our envelope, the seed's msgId), else
-- the SHA-1 of the body.
local function dedupe_key(body)
  local ok, doc = pcall(cjson.decode, body)
  if ok and type(doc) == 'table' and type(doc['message_id']) == 'string' then
    return 'id:' .. doc['message_id']
  end
  return 'sha1:' .. redis.sha1hex(body)
end

local function held(id, receipt)
  return redis.call('ZSCORE', INFLIGHT, id) and redis.call('HGET', RECEIPT, id) == receipt
end

-- Take a held entry out of flight (for ack, release, dead-letter).
local function take(id, receipt)
  if not held(id, receipt) then return false end
  redis.call('ZREM', INFLIGHT, id)
  redis.call('HDEL', RECEIPT, id)
  return true
end

-- Forget an entry's de-duplication key once it leaves the retry queue.
local function leave_retry(id)
  local key = redis.call('HGET', KEYOF, id)
  if key then
    if redis.call('HGET', RETRYKEYS, key) == id then
      redis.call('HDEL', RETRYKEYS, key)
    end
    redis.call('HDEL', KEYOF, id)
  end
end

-- Put entry id on the retry queue, due at due_ms, unless a copy with the same
-- key already waits there: then returns that copy's id and adds nothing.
local function to_retry(id, body, due_ms)
  local key = dedupe_key(body)
  local other = redis.call('HGET', RETRYKEYS, key)
  if other and other ~= id and redis.call('ZSCORE', RETRY, other) then
    return other
  end
  redis.call('ZADD', RETRY, due_ms, id)
  redis.call('HSET', RETRYKEYS, key, id)
  redis.call('HSET', KEYOF, id, key)
  redis.call('HINCRBY', RETRIES, id, 1)
  redis.call('HSET', DUE, id, due_ms)
  return false
end

local function forget(id)
  leave_retry(id)
  redis.call('HDEL', BODY, id)
  redis.call('HDEL', RECEIVES, id)
  redis.call('HDEL', RECEIPT, id)
  redis.call('HDEL', RETRIES, id)
  redis.call('HDEL', DUE, id)
  redis.call('HDEL', REASON, id)
end
"""

# ARGV: delay_ms, body...  Returns the entry id of each body (a duplicate on
# the retry queue: the id of the copy already there).
SEND = """
local delay = tonumber(ARGV[1])
local n = #ARGV - 1
local last = redis.call('INCRBY', SEQ, n)
local due = now_ms() + delay
local out = {}
for i = 1, n do
  local id = tostring(last - n + i)
  local body = ARGV[i + 1]
  out[i] = id
  redis.call('HSET', BODY, id, body)
  if delay > 0 then
    local other = to_retry(id, body, due)
    if other then
      redis.call('HDEL', BODY, id)
      out[i] = other
    end
  else
    redis.call('LPUSH', READY, id)
  end
end
return out
"""

# ARGV: count, visibility_ms, receipt.  First the listener's work: due retry
# entries and expired in-flight entries go back to the head of the ready
# list (each leaves its set in this same script, so it moves once). Then up
# to count entries are popped, put in flight and counted.
# Returns id, body, receive count, id, body, ...
RECEIVE = """
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', RETRY, '-inf', now, 'LIMIT', 0, 1000)
for i = #due, 1, -1 do
  redis.call('ZREM', RETRY, due[i])
  leave_retry(due[i])
  redis.call('RPUSH', READY, due[i])
end
local expired = redis.call('ZRANGEBYSCORE', INFLIGHT, '-inf', now, 'LIMIT', 0, 1000)
for i = #expired, 1, -1 do
  redis.call('ZREM', INFLIGHT, expired[i])
  redis.call('RPUSH', READY, expired[i])
end
local want = tonumber(ARGV[1])
local deadline = now + tonumber(ARGV[2])
local out = {}
local got = 0
while got < want do
  local ids = redis.call('RPOP', READY, want - got)
  if not ids then break end
  for _, id in ipairs(ids) do
    local body = redis.call('HGET', BODY, id)
    if body then
      out[#out + 1] = id
      out[#out + 1] = body
      out[#out + 1] = redis.call('HINCRBY', RECEIVES, id, 1)
      redis.call('HSET', RECEIPT, id, ARGV[3])
      redis.call('ZADD', INFLIGHT, deadline, id)
      got = got + 1
    end
  end
end
return out
"""

# ARGV: id, receipt, ...  Returns how many were deleted.
ACK = """
local n = 0
for i = 1, #ARGV, 2 do
  if take(ARGV[i], ARGV[i + 1]) then
    forget(ARGV[i])
    n = n + 1
  end
end
return n
"""

# ARGV: delay_ms, id, receipt, ...  Delay 0: back on the ready list (at its
# tail); otherwise onto the retry queue, where a copy with the same key that
# already waits absorbs this one (keeping the higher receive count).
RELEASE = """
local delay = tonumber(ARGV[1])
local due = now_ms() + delay
local n = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if take(id, ARGV[i + 1]) then
    n = n + 1
    if delay > 0 then
      local other = to_retry(id, redis.call('HGET', BODY, id), due)
      if other then
        local mine = tonumber(redis.call('HGET', RECEIVES, id) or '0')
        if mine > tonumber(redis.call('HGET', RECEIVES, other) or '0') then
          redis.call('HSET', RECEIVES, other, mine)
        end
        forget(id)
      end
    else
      redis.call('LPUSH', READY, id)
    end
  end
end
return n
"""

# ARGV: visibility_ms, id, receipt, ...  Returns the ids still held.
EXTEND = """
local deadline = now_ms() + tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV, 2 do
  if held(ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', INFLIGHT, 'XX', deadline, ARGV[i])
    out[#out + 1] = ARGV[i]
  end
end
return out
"""

# ARGV: reason, id, receipt, ...  Returns how many were dead-lettered.
DEAD_LETTER = """
local now = now_ms()
local n = 0
for i = 2, #ARGV, 2 do
  if take(ARGV[i], ARGV[i + 1]) then
    redis.call('ZADD', DEAD, now, ARGV[i])
    redis.call('HSET', REASON, ARGV[i], ARGV[1])
    n = n + 1
  end
end
return n
"""

# Returns visible (ready, due for retry, in flight past its deadline),
# in flight, delayed.
DEPTH = """
local now = now_ms()
local visible = redis.call('LLEN', READY) + redis.call('ZCOUNT', RETRY, '-inf', now)
  + redis.call('ZCOUNT', INFLIGHT, '-inf', now)
return {visible, redis.call('ZCOUNT', INFLIGHT, '(' .. now, '+inf'),
  redis.call('ZCOUNT', RETRY, '(' .. now, '+inf')}
"""

# ARGV: limit, 'all' | 'ids', id...  Returns, per DLQ entry found:
# {id, dead_ms, body, receives, reason, retries, last due_ms}.
DLQ_PEEK = """
local ids = {}
if ARGV[2] == 'all' then
  ids = redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[1]) - 1)
else
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local out = {}
for _, id in ipairs(ids) do
  local dead_at = redis.call('ZSCORE', DEAD, id)
  if dead_at then
    out[#out + 1] = {id, dead_at, redis.call('HGET', BODY, id) or '',
      redis.call('HGET', RECEIVES, id) or '0', redis.call('HGET', REASON, id) or '',
      redis.call('HGET', RETRIES, id) or '0', redis.call('HGET', DUE, id) or ''}
  end
end
return out
"""

# ARGV: id...  Back to the tail of the ready list with a fresh start (no
# receives, no retries). Returns the ids moved.
DLQ_MOVE = """
local out = {}
for _, id in ipairs(ARGV) do
  if redis.call('ZREM', DEAD, id) == 1 then
    leave_retry(id)
    for _, hash in ipairs({RECEIVES, RECEIPT, RETRIES, DUE, REASON}) do
      redis.call('HDEL', hash, id)
    end
    redis.call('LPUSH', READY, id)
    out[#out + 1] = id
  end
end
return out
"""

# ARGV: id...  Returns how many DLQ entries were deleted.
DLQ_PURGE = """
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('ZREM', DEAD, id) == 1 then
    forget(id)
    n = n + 1
  end
end
return n
"""

SCRIPTS = {
    "send": SEND,
    "receive": RECEIVE,
    "ack": ACK,
    "release": RELEASE,
    "extend": EXTEND,
    "dead_letter": DEAD_LETTER,
    "depth": DEPTH,
    "dlq_peek": DLQ_PEEK,
    "dlq_move": DLQ_MOVE,
    "dlq_purge": DLQ_PURGE,
}
