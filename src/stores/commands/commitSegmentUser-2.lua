#!lua
--[[
  Writes one user's rolling features, segments and next timer after a micro-batch, as a compare-and-set on the
  user's last applied offset of the source partition (exactly once: a replay or a concurrent writer that read an
  older offset is refused instead of overwriting newer state).

  KEYS[1] user features hash      ({u:<id>}:features)  s, seg, since, due, o:<topic>:<partition>, lc:<topic>:<partition>
  KEYS[2] user segments set       ({u:<id>}:segments)  the segment ids the user is in (for readers)

  ARGV[1] offset field            o:<topic>:<partition>
  ARGV[2] pending field           lc:<topic>:<partition>
  ARGV[3] expected offset         the offset read before the batch, -1 when there was none
  ARGV[4] new offset              the batch's last offset (every step up to it is reflected in the state)
  ARGV[5] state                   feature state JSON
  ARGV[6] due                     next timer (event time ms), or '' for none
  ARGV[7] segments                JSON array of segment ids, sorted
  ARGV[8] pending                 JSON array of the user's changes not yet known to be emitted
  ARGV[9] since                   JSON object: segment id -> [entry event time, cause], for the segments of ARGV[7]

  Returns
   1                        written
   E_SEGMENT_USER_CONFLICT  the stored offset is not ARGV[3] (nothing written; the caller retries the micro-batch)
   E_BAD_ARGS               ARGV[7] is not a JSON array (nothing written)
]]
--@include json-args
local segs = decodeTable(ARGV[7])
if not segs then return E_BAD_ARGS end

local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if stored ~= tonumber(ARGV[3]) then return E_SEGMENT_USER_CONFLICT end

redis.call('HSET', KEYS[1], 's', ARGV[5], 'seg', ARGV[7], 'since', ARGV[9], ARGV[1], ARGV[4], ARGV[2], ARGV[8])
if ARGV[6] == '' then redis.call('HDEL', KEYS[1], 'due') else redis.call('HSET', KEYS[1], 'due', ARGV[6]) end

redis.call('DEL', KEYS[2])
if #segs > 0 then redis.call('SADD', KEYS[2], unpack(segs)) end
return 1
