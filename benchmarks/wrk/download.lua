-- GET one snapshot file again and again with a licensee key (script args: path, key).
local path, key

function init(args)
  path, key = args[1], args[2]
end

function request()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. key})
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,' ..
    '"read_errors":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(99), summary.errors.status, summary.errors.read))
end
