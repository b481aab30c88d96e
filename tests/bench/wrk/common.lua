-- What both wrk scripts share: numbering the threads, and printing `bench name value` lines
-- (for tests/bench/heartbeats.rs) from the totals of every thread's counters.
local common = {}

local threads = {}

function common.setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
    for _, t in ipairs(threads) do
        t:set("stride", #threads)
    end
end

-- Prints wrk's own figures and the sum over the threads of each counter in `counters`.
function common.report(summary, latency, counters)
    local totals = {}
    local first = nil
    for _, thread in ipairs(threads) do
        for _, name in ipairs(counters) do
            totals[name] = (totals[name] or 0) + thread:get(name)
        end
        first = first or thread:get("first_failure")
    end
    local e = summary.errors
    io.write(string.format("bench requests %d\n", summary.requests))
    io.write(string.format("bench duration_us %d\n", summary.duration))
    io.write(string.format("bench socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
    io.write(string.format("bench http_errors %d\n", e.status))
    for _, name in ipairs(counters) do
        io.write(string.format("bench %s %d\n", name, totals[name]))
    end
    for _, p in ipairs({ 50, 99, 99.9 }) do
        io.write(string.format("bench p%s_us %d\n", p, latency:percentile(p)))
    end
    io.write(string.format("bench max_us %d\n", latency.max))
    if first then
        io.write("bench first_failure " .. string.gsub(first, "\n", " ") .. "\n")
    end
end

-- POSTs of JSON with the API key; each thread sends its formatted `requests` in turn.
function common.start(api_key)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["X-API-Key"] = api_key
    requests = {}
    position = 1
    failed = 0
    first_failure = nil
end

function common.request()
    local formatted = requests[position]
    position = position % #requests + 1
    return formatted
end

-- Counts a response that is not the expected one, remembering the first.
function common.failure(status, body)
    failed = failed + 1
    if first_failure == nil then
        first_failure = status .. " " .. string.sub(body, 1, 300)
    end
end

return common
