#!lua
--[[
  Deletes a user's own keys (the erase stage's sweep, stages/rights/erase.ts): every `{u:<pseudonym>}` key the
  registry of src/stores/user-owned.ts lists. Idempotent: a replay deletes what is left (nothing).

  KEYS[1] subject hash            ({u:<pseudonym>}:subject)
  KEYS[2..] the user's other keys (same hash slot: they share the `{u:<pseudonym>}` tag)

  ARGV[1] subject                 delete | keep (keep: consent choices made after the erasure stay; the sealed id
                                  goes, since no event after the erasure was personalized)

  Returns
   n            the number of keys deleted
   E_BAD_ARGS   an unknown subject mode
]]
if ARGV[1] ~= 'delete' and ARGV[1] ~= 'keep' then return E_BAD_ARGS end
local n = 0
if ARGV[1] == 'delete' then n = n + redis.call('DEL', KEYS[1]) else redis.call('HDEL', KEYS[1], 'id') end
for i = 2, #KEYS do n = n + redis.call('DEL', KEYS[i]) end
return n
