// AgentSpec JSON: round trip, and errors (never exceptions) for bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/spec.h"

namespace tusk::agent {
namespace {

InstanceSpec MakeInstance(const std::string& name, int port) {
  InstanceSpec i;
  i.name = name;
  i.data_dir = "/srv/tusk/" + name + "/data";
  i.postgres_bin = "/usr/lib/postgresql/15/bin";
  i.port = port;
  i.socket_dir = "/srv/tusk/.run/" + name;
  i.log_file = "/srv/tusk/" + name + "/server \"log\".txt";
  i.run_as.uid = 105;
  i.run_as.gid = 110;
  i.run_as.name = "postgres";
  i.run_as.home = "/var/lib/postgresql";
  return i;
}

void ExpectSame(const InstanceSpec& a, const InstanceSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.data_dir, b.data_dir);
  EXPECT_EQ(a.postgres_bin, b.postgres_bin);
  EXPECT_EQ(a.port, b.port);
  EXPECT_EQ(a.socket_dir, b.socket_dir);
  EXPECT_EQ(a.log_file, b.log_file);
  EXPECT_EQ(a.run_as.uid, b.run_as.uid);
  EXPECT_EQ(a.run_as.gid, b.run_as.gid);
  EXPECT_EQ(a.run_as.name, b.run_as.name);
  EXPECT_EQ(a.run_as.home, b.run_as.home);
}

TEST(AgentSpecTest, RoundTrip) {
  AgentSpec spec;
  spec.instances = {MakeInstance("main", 5432), MakeInstance("analytics-é", 6543)};
  std::string json = SpecToJson(spec);
  auto back = SpecFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->instances.size(), 2u);
  ExpectSame(back->instances[0], spec.instances[0]);
  ExpectSame(back->instances[1], spec.instances[1]);
  EXPECT_EQ(SpecToJson(*back), json);
}

TEST(AgentSpecTest, EmptySpecRoundTrips) {
  auto back = SpecFromJson(SpecToJson(AgentSpec{}));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->instances.empty());
}

TEST(AgentSpecTest, MalformedJsonIsInvalidArgument) {
  for (const char* text :
       {"", "{", "not json", "[]", "null", "42", "\"instances\"", "{\"instances\": {}}",
        "{\"instances\": 3}", "{\"other\": []}", "{\"instances\": [1]}", "{\"instances\": [null]}",
        "{\"instances\": [[]]}", "{\"instances\": []} trailing"}) {
    Result<AgentSpec> r = AgentSpec{};
    ASSERT_NO_THROW(r = SpecFromJson(text)) << text;
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << text;
    EXPECT_FALSE(r.status().message().empty()) << text;
  }
}

TEST(AgentSpecTest, MissingOrMistypedFieldsAreInvalidArgument) {
  AgentSpec spec;
  spec.instances = {MakeInstance("main", 5432)};
  const nlohmann::json good = nlohmann::json::parse(SpecToJson(spec));
  const char* fields[] = {"name",       "data_dir", "postgres_bin", "port",
                          "socket_dir", "log_file", "run_as"};
  for (const char* field : fields) {
    nlohmann::json doc = good;
    doc["instances"][0].erase(field);
    Result<AgentSpec> r = AgentSpec{};
    ASSERT_NO_THROW(r = SpecFromJson(doc.dump())) << field;
    ASSERT_FALSE(r.ok()) << "missing " << field;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();

    doc = good;
    doc["instances"][0][field] = nlohmann::json::array();
    ASSERT_NO_THROW(r = SpecFromJson(doc.dump())) << field;
    EXPECT_FALSE(r.ok()) << "mistyped " << field;
  }
  for (const char* field : {"uid", "gid", "name", "home"}) {
    nlohmann::json doc = good;
    doc["instances"][0]["run_as"].erase(field);
    Result<AgentSpec> r = AgentSpec{};
    ASSERT_NO_THROW(r = SpecFromJson(doc.dump())) << field;
    ASSERT_FALSE(r.ok()) << "missing run_as." << field;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

TEST(AgentSpecTest, NumbersAsStringsAreRejected) {
  AgentSpec spec;
  spec.instances = {MakeInstance("main", 5432)};
  const nlohmann::json good = nlohmann::json::parse(SpecToJson(spec));
  nlohmann::json doc = good;
  doc["instances"][0]["port"] = "5432";
  EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument);
  doc = good;
  doc["instances"][0]["run_as"]["uid"] = "root";
  EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument);
}

TEST(AgentSpecTest, NonIntegralOrOutOfRangeNumbersAreRejected) {
  AgentSpec spec;
  spec.instances = {MakeInstance("main", 5432)};
  const nlohmann::json good = nlohmann::json::parse(SpecToJson(spec));
  for (const char* port : {"1e20", "1.5", "true", "0", "70000", "-1", "18446744073709551615"}) {
    nlohmann::json doc = good;
    doc["instances"][0]["port"] = nlohmann::json::parse(port);
    EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument) << port;
  }
  nlohmann::json doc = good;
  doc["instances"][0]["run_as"]["uid"] = -5;
  EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument);
}

RouterProcessSpec MakeRouter(const std::string& instance, int port) {
  RouterProcessSpec r;
  r.instance = instance;
  r.spec_file = "/srv/tusk/.agent/" + instance + ".router.spec.json";
  r.log_file = "/srv/tusk/.agent/" + instance + ".router.log";
  r.host = "127.0.0.1";
  r.port = port;
  r.pid_file = "/srv/tusk/.run/" + instance + ".router.pid";
  return r;
}

TEST(AgentSpecTest, RoutersRoundTrip) {
  AgentSpec spec;
  spec.instances = {MakeInstance("main", 5432), MakeInstance("data", 5433)};
  spec.routers = {MakeRouter("main", 6432), MakeRouter("data", 6433)};
  std::string json = SpecToJson(spec);
  auto back = SpecFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  ASSERT_EQ(back->routers.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const RouterProcessSpec& a = back->routers[i];
    const RouterProcessSpec& b = spec.routers[i];
    EXPECT_EQ(a.instance, b.instance);
    EXPECT_EQ(a.spec_file, b.spec_file);
    EXPECT_EQ(a.log_file, b.log_file);
    EXPECT_EQ(a.host, b.host);
    EXPECT_EQ(a.port, b.port);
    EXPECT_EQ(a.pid_file, b.pid_file);
  }
  EXPECT_EQ(SpecToJson(*back), json);
}

TEST(AgentSpecTest, SpecWithoutRoutersStillParses) {
  auto back = SpecFromJson(R"({"instances": []})");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->routers.empty());
}

TEST(AgentSpecTest, BadRoutersAreInvalidArgument) {
  AgentSpec spec;
  spec.routers = {MakeRouter("main", 6432)};
  const nlohmann::json good = nlohmann::json::parse(SpecToJson(spec));
  for (const char* field : {"instance", "spec_file", "log_file", "host", "port", "pid_file"}) {
    nlohmann::json doc = good;
    doc["routers"][0].erase(field);
    Result<AgentSpec> r = AgentSpec{};
    ASSERT_NO_THROW(r = SpecFromJson(doc.dump())) << field;
    ASSERT_FALSE(r.ok()) << "missing " << field;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  }
  for (const char* port : {"0", "65536", "\"6432\"", "1.5"}) {
    nlohmann::json doc = good;
    doc["routers"][0]["port"] = nlohmann::json::parse(port);
    EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument) << port;
  }
  for (const char* routers : {"{}", "3", "[1]", "[null]"}) {
    nlohmann::json doc = good;
    doc["routers"] = nlohmann::json::parse(routers);
    EXPECT_EQ(SpecFromJson(doc.dump()).status().code(), Code::kInvalidArgument) << routers;
  }
}

}  // namespace
}  // namespace tusk::agent
