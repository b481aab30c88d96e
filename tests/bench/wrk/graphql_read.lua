-- wrk script: the same GraphQL read over and over (tests/bench/nested_reads.rs). Arguments:
-- <file holding the JSON body> <API key, or - for none>. A response other than 200 with `data`
-- and no `errors` counts as failed. done() prints `bench name value` lines.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

setup = common.setup
request = common.request

function init(args)
    common.start(args[2])
    if args[2] == "-" then
        wrk.headers["X-API-Key"] = nil
    end
    local file = assert(io.open(args[1], "r"))
    local body = file:read("*a")
    file:close()
    requests[1] = wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
    if status ~= 200 or string.find(body, '"errors"', 1, true) or not string.find(body, '"data"', 1, true) then
        common.failure(status, body)
    end
end

function done(summary, latency, requests)
    common.report(summary, latency, { "failed" })
end
