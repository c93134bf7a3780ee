// JSON (de)serialization of the agent's spec.
#include "agent/spec.h"

#include <nlohmann/json.hpp>

namespace tusk::agent {
namespace {

// An integer field within [lo, hi]; throws json::type_error otherwise (caught below).
int64_t Integer(const nlohmann::json& j, const char* field, int64_t lo, int64_t hi) {
  if (!j.is_number_integer()) {
    throw nlohmann::json::type_error::create(302, std::string(field) + " must be an integer", &j);
  }
  int64_t v = j.is_number_unsigned() && j.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                  ? hi + 1
                  : j.get<int64_t>();
  if (v < lo || v > hi) {
    throw nlohmann::json::type_error::create(302, std::string(field) + " out of range", &j);
  }
  return v;
}

nlohmann::json RunAsToJson(const sys::RunAs& a) {
  return {{"uid", a.uid}, {"gid", a.gid}, {"name", a.name}, {"home", a.home}};
}

sys::RunAs RunAsFromJson(const nlohmann::json& r) {
  sys::RunAs a;
  a.uid = static_cast<uid_t>(Integer(r.at("uid"), "uid", 0, 0xFFFFFFFE));
  a.gid = static_cast<gid_t>(Integer(r.at("gid"), "gid", 0, 0xFFFFFFFE));
  a.name = r.at("name").get<std::string>();
  a.home = r.at("home").get<std::string>();
  return a;
}

}  // namespace

std::string SpecToJson(const AgentSpec& spec) {
  nlohmann::json doc = {{"instances", nlohmann::json::array()}};
  for (const auto& i : spec.instances) {
    doc["instances"].push_back({{"name", i.name},
                                {"data_dir", i.data_dir},
                                {"postgres_bin", i.postgres_bin},
                                {"port", i.port},
                                {"socket_dir", i.socket_dir},
                                {"log_file", i.log_file},
                                {"run_as", RunAsToJson(i.run_as)}});
  }
  doc["routers"] = nlohmann::json::array();
  for (const auto& r : spec.routers) {
    doc["routers"].push_back({{"instance", r.instance},
                              {"spec_file", r.spec_file},
                              {"log_file", r.log_file},
                              {"host", r.host},
                              {"port", r.port},
                              {"pid_file", r.pid_file},
                              {"run_as", RunAsToJson(r.run_as)}});
  }
  return doc.dump(2) + "\n";
}

Result<AgentSpec> SpecFromJson(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("instances") ||
      !doc["instances"].is_array()) {
    return InvalidArgument("agent spec: expected {\"instances\": [...]}");
  }
  AgentSpec spec;
  for (const auto& j : doc["instances"]) {
    try {
      InstanceSpec i;
      i.name = j.at("name").get<std::string>();
      i.data_dir = j.at("data_dir").get<std::string>();
      i.postgres_bin = j.at("postgres_bin").get<std::string>();
      i.port = Integer(j.at("port"), "port", 1, 65535);
      i.socket_dir = j.at("socket_dir").get<std::string>();
      i.log_file = j.at("log_file").get<std::string>();
      i.run_as = RunAsFromJson(j.at("run_as"));
      spec.instances.push_back(std::move(i));
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument(std::string("agent spec: ") + e.what());
    }
  }
  if (!doc.contains("routers")) return spec;
  if (!doc["routers"].is_array()) return InvalidArgument("agent spec: routers must be a list");
  for (const auto& j : doc["routers"]) {
    try {
      RouterProcessSpec r;
      r.instance = j.at("instance").get<std::string>();
      r.spec_file = j.at("spec_file").get<std::string>();
      r.log_file = j.at("log_file").get<std::string>();
      r.host = j.at("host").get<std::string>();
      r.port = Integer(j.at("port"), "port", 1, 65535);
      r.pid_file = j.at("pid_file").get<std::string>();
      if (j.contains("run_as")) r.run_as = RunAsFromJson(j.at("run_as"));
      spec.routers.push_back(std::move(r));
    } catch (const nlohmann::json::exception& e) {
      return InvalidArgument(std::string("agent spec: routers: ") + e.what());
    }
  }
  return spec;
}

}  // namespace tusk::agent
