#!lua
--[[
  Writes a data subject's hash (the rights stage, docs/privacy.md): the sealed real id and the consent JSON, each
  only when the worker computed a change. Both values are deterministic functions of the micro-batch and the
  history it read (stages/rights/consent.ts), so a replay writes the same bytes again: no offset gate is needed.

  KEYS[1] subject hash            ({u:<pseudonym>}:subject)  id -> sealed id, consent -> consent JSON

  ARGV[1] id                      the sealed id, or '' to leave the field as it is
  ARGV[2] consent mode            keep | set | del
  ARGV[3] consent                 the consent JSON (mode set)

  Returns
   1            written
   E_BAD_ARGS   an unknown consent mode
]]
local mode = ARGV[2]
if mode ~= 'keep' and mode ~= 'set' and mode ~= 'del' then return E_BAD_ARGS end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'id', ARGV[1]) end
if mode == 'set' then redis.call('HSET', KEYS[1], 'consent', ARGV[3]) end
if mode == 'del' then redis.call('HDEL', KEYS[1], 'consent') end
return 1
