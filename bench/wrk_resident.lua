-- wrk script: resident(id) point reads. TOKEN=<bearer> wrk -t1 -c16 -d10s -s bench/wrk_resident.lua http://127.0.0.1:8000/graphql
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
math.randomseed(os.time())
request = function()
  local id = math.random(1, 20000)
  local gid = "Resident:" .. id
  -- base64 of Resident:<id> is computed client-side below
  return wrk.format(nil, nil, nil, '{"query":"query($id: ID!) { resident(id: $id) { id name sex birthDate categories team { name } } }","variables":{"id":"' .. B64(gid) .. '"}}')
end
local b='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
function B64(data)
    return ((data:gsub('.', function(x)
        local r,b='',x:byte()
        for i=8,1,-1 do r=r..(b%2^i-b%2^(i-1)>0 and '1' or '0') end
        return r;
    end)..'0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
        if (#x < 6) then return '' end
        local c=0
        for i=1,6 do c=c+(x:sub(i,i)=='1' and 2^(6-i) or 0) end
        return b:sub(c+1,c+1)
    end)..({ '', '==', '=' })[#data%3+1])
end
