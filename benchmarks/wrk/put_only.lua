-- 90% GET /v1/me/consent, 10% PUT /v1/me/consent/{purpose}, each as a random person.
-- Tokens come from the file named by the first script argument, one JWT per line.
local tokens = {}
local purposes = {"train", "fine_tune", "share", "answer"}

function init(args)
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  -- A seed per thread: wrk's threads would otherwise replay the same sequence.
  math.randomseed(os.time() + tonumber(tostring(tokens):match("0x(%x+)") or "0", 16) % 100000)
end

function request()
  local headers = {["Authorization"] = "Bearer " .. tokens[math.random(#tokens)]}
  if true then
    headers["Content-Type"] = "application/json"
    local decision = math.random(2) == 1 and "grant" or "deny"
    return wrk.format("PUT", "/v1/me/consent/" .. purposes[math.random(#purposes)], headers,
      '{"decision":"' .. decision .. '"}')
  end
  return wrk.format("GET", "/v1/me/consent", headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"connect_errors":%d,"read_errors":%d,"timeouts":%d,"non2xx":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, summary.errors.connect,
    summary.errors.read, summary.errors.timeout, summary.errors.status))
end
