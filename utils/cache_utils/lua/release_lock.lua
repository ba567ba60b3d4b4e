-- Release a lock only if we still hold it: a holder whose lock expired must not delete the
-- lock a later request took in the meantime.
-- KEYS[1] lock key, ARGV[1] the holder's random token
if redis.call("GET", KEYS[1]) == ARGV[1] then
    return redis.call("DEL", KEYS[1])
end
return 0
