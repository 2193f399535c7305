-- KEYS[1] hash, KEYS[2] sorted-set index (absent when the record has none).
-- ARGV[1] version, ARGV[2] index score, ARGV[3] index member, ARGV[4] TTL in ms (0: none),
-- ARGV[5..] field/value pairs. Writes only if ARGV[1] is newer than the stored version.
local current = redis.call('HGET', KEYS[1], 'version')
if current and tonumber(current) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'version', ARGV[1], unpack(ARGV, 5))
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if KEYS[2] then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
end
return 1
