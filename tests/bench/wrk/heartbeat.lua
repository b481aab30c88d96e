-- wrk script: a fleet's heartbeats. Every wrk thread reads the same token file and shuffles it
-- with its own seed, then each request takes the thread's next token, so the same token is
-- sometimes in flight on two connections at once (as with clients retrying).
-- Arguments: <token file> <API key>. done() prints `bench name value` lines.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

-- What a real client (the SDK) asks: the deadline, the server's clock and a fresh signed lease.
local query = "mutation Heartbeat($t: UUID!) { heartbeat(sessionToken: $t) { __typename "
    .. "... on HeartbeatAccepted { nextDeadline serverTime lease } ... on HeartbeatRefused { reason } } }"

setup = common.setup
request = common.request

function init(args)
    local tokens = {}
    for line in io.lines(args[1]) do
        tokens[#tokens + 1] = line
    end
    math.randomseed(id * 7919)
    for i = #tokens, 2, -1 do
        local j = math.random(i)
        tokens[i], tokens[j] = tokens[j], tokens[i]
    end
    -- Every request is formatted once here, so that the load generator spends its CPU on
    -- sending, not on building strings (it shares the machine with the server).
    common.start(args[2])
    for i, token in ipairs(tokens) do
        requests[i] = wrk.format(nil, nil, nil, '{"query":"' .. query .. '","variables":{"t":"' .. token .. '"}}')
    end
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, '"HeartbeatAccepted"', 1, true) then
        common.failure(status, body)
    end
end

function done(summary, latency, requests)
    common.report(summary, latency, { "failed" })
end
