-- Argo CD health check for hardway.dev EtcdCluster, ControlPlane and WorkerPool (one script for all three).
-- Argo CD runs it with the live object in `obj` (Lua 5.1) and reads the returned table: status is one of
-- Healthy, Progressing, Degraded, Suspended; message is shown in the UI.
--   * no status yet, or status older than the spec (observedGeneration < generation): Progressing
--   * being deleted (deletionTimestamp, or condition Deleting=True): Progressing
--   * annotation hardway.dev/paused="true" observed (condition Paused=True): Suspended
--   * Ready=True, observed for the current generation: Healthy
--   * Ready=False with a reason that waits for a person (bad spec, refused token, refused machine): Degraded
--   * anything else (Ready=False while converging, Unknown, dependencies not ready yet): Progressing
local hs = {}

local DEGRADED_REASONS = {
  InvalidSpec = true,         -- the operator's validation rejected the spec; it waits for an edit
  CredentialsInvalid = true,  -- DigitalOcean or Cloudflare refused the token
  ProvisioningFailed = true,  -- DigitalOcean refused a droplet (size, image, region, droplet limit)
  DNSRecordRefused = true,    -- Cloudflare refused a record (a name another owner holds, a plan limit)
  VersionChangeRefused = true, -- spec.version asks for an unsupported change (a minor down, two minors up)
  RetriesExhausted = true,     -- new machines failed again and again; nothing more is tried until the spec changes
  ClusterLost = true,          -- every etcd member is gone; nothing is seeded until a person accepts the loss
  RestoreFailed = true,        -- spec.restore names no usable snapshot (missing, corrupt, storage refused)
}

local function conditionsByType(status)
  local byType = {}
  if status ~= nil and status.conditions ~= nil then
    for _, c in ipairs(status.conditions) do
      if c.type ~= nil then byType[c.type] = c end
    end
  end
  return byType
end

local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then text = text .. ": " end
    text = text .. c.message
  end
  return text
end

local generation = nil
if obj.metadata ~= nil then generation = obj.metadata.generation end
local status = obj.status
local conditions = conditionsByType(status)
local ready = conditions["Ready"]

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  local deleting = conditions["Deleting"]
  hs.message = "Deleting"
  if deleting ~= nil and deleting.status == "True" and deleting.message ~= nil then hs.message = "Deleting: " .. deleting.message end
  return hs
end

if status == nil or ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the hardway operator to report status"
  return hs
end

if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local paused = conditions["Paused"]
if paused ~= nil and paused.status == "True" then
  hs.status = "Suspended"
  hs.message = paused.message or "Paused"
  return hs
end

local deleting = conditions["Deleting"]
if deleting ~= nil and deleting.status == "True" then
  hs.status = "Progressing"
  hs.message = "Deleting: " .. (deleting.message or deleting.reason or "")
  return hs
end

-- Ready as evaluated for an older generation says nothing about the current spec.
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to evaluate generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ready.reason or "Ready"
  return hs
end

if ready.status == "False" and ready.reason ~= nil and DEGRADED_REASONS[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end

-- A condition other than Ready may carry the terminal reason (e.g. MachinesProvisioned=False/ProvisioningFailed).
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    if c.type ~= "Ready" and c.status == "False" and c.reason ~= nil and DEGRADED_REASONS[c.reason] then
      hs.status = "Degraded"
      hs.message = c.type .. ": " .. describe(c)
      return hs
    end
  end
end

hs.status = "Progressing"
hs.message = describe(ready)
if hs.message == "" then hs.message = "Ready is " .. tostring(ready.status) end
return hs
