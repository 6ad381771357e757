#include "gpu/cdi_generate.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "gpu/visible.h"

namespace berth::gpu {
namespace {

// A node as the generated spec carries it: the path, and the host path when it differs.
CdiDeviceNode SpecNode(const CdiDeviceNode& planned) {
  CdiDeviceNode n;
  n.path = planned.path;
  if (planned.host_path != planned.path) n.host_path = planned.host_path;
  return n;
}

Json EditsToJson(const ContainerEdits& e) {
  Json j = Json::object();
  if (!e.env.empty()) j["env"] = e.env;
  if (!e.device_nodes.empty()) {
    Json nodes = Json::array();
    for (const auto& d : e.device_nodes) {
      Json n = {{"path", d.path}};
      if (!d.host_path.empty()) n["hostPath"] = d.host_path;
      if (!d.type.empty()) n["type"] = d.type;
      if (d.major != 0) n["major"] = d.major;
      if (d.minor != 0) n["minor"] = d.minor;
      if (d.file_mode) n["fileMode"] = *d.file_mode;
      if (!d.permissions.empty()) n["permissions"] = d.permissions;
      if (d.uid) n["uid"] = *d.uid;
      if (d.gid) n["gid"] = *d.gid;
      nodes.push_back(std::move(n));
    }
    j["deviceNodes"] = std::move(nodes);
  }
  if (!e.hooks.empty()) {
    Json hooks = Json::array();
    for (const auto& h : e.hooks) {
      Json x = {{"hookName", h.hook_name}, {"path", h.path}};
      if (!h.args.empty()) x["args"] = h.args;
      if (!h.env.empty()) x["env"] = h.env;
      if (h.timeout) x["timeout"] = *h.timeout;
      hooks.push_back(std::move(x));
    }
    j["hooks"] = std::move(hooks);
  }
  if (!e.mounts.empty()) {
    Json mounts = Json::array();
    for (const auto& m : e.mounts) {
      Json x = {{"hostPath", m.host_path}, {"containerPath", m.container_path}};
      if (!m.options.empty()) x["options"] = m.options;
      if (!m.type.empty()) x["type"] = m.type;
      mounts.push_back(std::move(x));
    }
    j["mounts"] = std::move(mounts);
  }
  if (!e.additional_gids.empty()) j["additionalGids"] = e.additional_gids;
  return j;
}

void Emit(YAML::Emitter& out, const Json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [k, v] : j.items()) {
      out << YAML::Key << k << YAML::Value;
      Emit(out, v);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& v : j) Emit(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Quoted: a name like "0" or "no" stays a string for every YAML reader.
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_boolean()) {
    out << (j.get<bool>() ? "true" : "false");
  } else if (j.is_number_unsigned()) {
    out << j.get<uint64_t>();
  } else if (j.is_number_integer()) {
    out << j.get<int64_t>();
  } else if (j.is_number()) {
    out << j.get<double>();
  } else {
    out << YAML::Null;
  }
}

}  // namespace

Result<CdiSpec> GenerateCdiSpec(const CdiGenerateInput& in, const DeviceNumberLookup& lookup) {
  CdiSpec spec;
  spec.vendor = in.vendor;
  spec.class_name = in.class_name;
  spec.kind = in.vendor + "/" + in.class_name;
  BERTH_CHECK(ValidateCdiVendorName(spec.vendor));
  BERTH_CHECK(ValidateCdiClassName(spec.class_name));

  // The common part: what --gpus gives a container with every capability and no GPU.
  GpuSelection none;
  none.visibility = GpuSelection::Devices::kNone;
  none.capabilities = KnownDriverCapabilities();
  BERTH_TRY(GpuInjection common, PlanInjection(none, in.gpus, in.files, in.roots, lookup));
  for (const auto& d : common.edits.device_nodes) spec.edits.device_nodes.push_back(SpecNode(d));
  spec.edits.mounts = common.edits.mounts;
  // A container that gets devices from CDI must not also be given GPUs by an NVIDIA hook.
  spec.edits.env = {"NVIDIA_VISIBLE_DEVICES=void"};

  CdiDevice all;
  all.name = "all";
  for (size_t i = 0; i < in.gpus.size(); ++i) {
    std::string path = "/dev/nvidia" + std::to_string(in.gpus[i].minor);
    BERTH_TRY(CdiDeviceNode node, DeviceNodeFor(path, in.roots, lookup), "GPU {} ({})", i,
              in.gpus[i].bus_id);
    CdiDevice by_index;
    by_index.name = std::to_string(i);
    by_index.edits.device_nodes.push_back(SpecNode(node));
    spec.devices.push_back(by_index);
    if (!in.gpus[i].uuid.empty()) {
      CdiDevice by_uuid = by_index;
      by_uuid.name = in.gpus[i].uuid;
      spec.devices.push_back(std::move(by_uuid));
    }
    all.edits.device_nodes.push_back(SpecNode(node));
  }
  if (!in.gpus.empty()) spec.devices.push_back(std::move(all));

  if (in.mig) {
    for (const MigDevice& m : in.mig->devices) {
      GpuSelection one;
      one.visibility = GpuSelection::Devices::kList;
      one.devices = {DeviceId{DeviceId::Kind::kMigIndex, m.uuid, m.gpu, m.index}};
      BERTH_TRY(GpuInjection plan, PlanInjection(one, in.gpus, {}, in.roots, lookup, false, {}, &*in.mig),
                "MIG device {}", m.uuid);
      CdiDevice by_index;
      by_index.name = fmt::format("{}:{}", m.gpu, m.index);
      for (const auto& d : plan.edits.device_nodes) {
        bool common = std::any_of(spec.edits.device_nodes.begin(), spec.edits.device_nodes.end(),
                                  [&](const CdiDeviceNode& c) { return c.path == d.path; });
        if (!common) by_index.edits.device_nodes.push_back(SpecNode(d));
      }
      CdiDevice by_uuid = by_index;
      by_uuid.name = m.uuid;
      spec.devices.push_back(std::move(by_index));
      spec.devices.push_back(std::move(by_uuid));
    }
  }

  // 0.5.0: device names that start with a digit, hostPath in device nodes (and 0.4.0's mount
  // types), the lowest version that holds this spec and the one nvidia-ctk writes for it.
  spec.version = "0.5.0";
  // What the reference would read back; a GPU whose UUID is not a valid name shows here.
  BERTH_CHECK(CdiSpecFromJson(CdiSpecToJson(spec), "the generated spec"));
  return spec;
}

Json CdiSpecToJson(const CdiSpec& spec) {
  Json j = {{"cdiVersion", spec.version}, {"kind", spec.kind}};
  if (!spec.annotations.empty()) j["annotations"] = spec.annotations;
  Json devices = Json::array();
  for (const auto& d : spec.devices) {
    Json x = {{"name", d.name}};
    if (!d.annotations.empty()) x["annotations"] = d.annotations;
    x["containerEdits"] = EditsToJson(d.edits);
    devices.push_back(std::move(x));
  }
  j["devices"] = std::move(devices);
  Json edits = EditsToJson(spec.edits);
  if (!edits.empty()) j["containerEdits"] = std::move(edits);
  return j;
}

std::string JsonToYaml(const Json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, doc);
  return std::string(out.c_str()) + "\n";
}

}  // namespace berth::gpu
