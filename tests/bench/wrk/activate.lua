-- wrk script: a morning rush of activations. The device file holds `licenseKey fingerprint`
-- lines ordered so that consecutive lines belong to different licenses; thread k of n takes
-- lines k, k+n, k+2n … and starts over at the end (then the devices resume their sessions).
-- Arguments: <device file> <API key>. done() prints `bench name value` lines.
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")

local query = "mutation Activate($i: ActivateInput!) { activate(input: $i) { __typename "
    .. "... on SessionGranted { sessionToken resumed } ... on ActivationDenied { reason } } }"

setup = common.setup
request = common.request

function init(args)
    common.start(args[2])
    new_sessions = 0
    resumed = 0
    local n = 0
    for line in io.lines(args[1]) do
        n = n + 1
        if (n - id) % stride == 0 then
            local key, fingerprint = string.match(line, "^(%S+) (%S+)$")
            requests[#requests + 1] = wrk.format(nil, nil, nil, '{"query":"' .. query
                .. '","variables":{"i":{"licenseKey":"' .. key .. '","hardwareFingerprint":"'
                .. fingerprint .. '","deviceName":"bench device"}}}')
        end
    end
end

function response(status, headers, body)
    if status == 200 and string.find(body, '"SessionGranted"', 1, true) then
        if string.find(body, '"resumed":true', 1, true) then
            resumed = resumed + 1
        else
            new_sessions = new_sessions + 1
        end
    else
        common.failure(status, body)
    end
end

function done(summary, latency, requests)
    common.report(summary, latency, { "new_sessions", "resumed", "failed" })
end
