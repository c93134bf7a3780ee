// Password generation and resolution against a real temporary secrets file.
#include "postgres/secrets.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "../support/fake_environment.h"

namespace tusk::postgres {
namespace {

namespace fs = std::filesystem;

bool UrlSafe(const std::string& s) {
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

TEST(GeneratePasswordTest, LengthAlphabetAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string p = GeneratePassword();
    EXPECT_EQ(p.size(), 43u) << p;
    EXPECT_TRUE(UrlSafe(p)) << p;
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 200u);
}

config::Role LoginRole(const std::string& name, config::PasswordSource src) {
  config::Role r;
  r.name = name;
  r.password_source = src;
  return r;
}

class ResolvePasswordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tusk-secrets-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    secrets_ = dir_ + "/.secrets/main.json";
    inst_.name = "main";
    inst_.superuser = "postgres";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string ReadAll(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  void WriteAll(const std::string& path, const std::string& content) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << content;
  }

  std::string dir_;
  std::string secrets_;
  config::Instance inst_;
  test::FakeEnvironment env_;
};

TEST_F(ResolvePasswordsTest, GeneratedPasswordsArePersistedPrivatelyAndStable) {
  inst_.roles = {LoginRole("app", config::PasswordSource::kGenerated),
                 LoginRole("reader", config::PasswordSource::kGenerated)};
  auto first = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(first.ok()) << first.status().message();
  ASSERT_EQ(first->size(), 3u);
  for (const auto& [role, pw] : *first) {
    EXPECT_EQ(pw.size(), 43u) << role;
    EXPECT_TRUE(UrlSafe(pw)) << role;
  }
  EXPECT_NE(first->at("app"), first->at("reader"));
  EXPECT_NE(first->at("app"), first->at("postgres"));

  struct stat st;
  ASSERT_EQ(::stat(secrets_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto doc = nlohmann::json::parse(ReadAll(secrets_));
  EXPECT_EQ(doc["roles"]["app"], first->at("app"));
  EXPECT_EQ(doc["roles"]["postgres"], first->at("postgres"));

  auto second = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(*second, *first);
}

TEST_F(ResolvePasswordsTest, NewRoleAddedKeepsExistingPasswords) {
  inst_.roles = {LoginRole("app", config::PasswordSource::kGenerated)};
  auto first = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(first.ok());
  inst_.roles.push_back(LoginRole("late", config::PasswordSource::kGenerated));
  auto second = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->at("app"), first->at("app"));
  EXPECT_EQ(second->at("postgres"), first->at("postgres"));
  EXPECT_EQ(second->at("late").size(), 43u);
}

TEST_F(ResolvePasswordsTest, EnvAndFileSources) {
  env_.vars = {{"PG_SUPER", "super-secret"}, {"APP_PW", "app pw"}};
  inst_.superuser_password_source = config::PasswordSource::kEnv;
  inst_.superuser_password_env = "PG_SUPER";
  config::Role app = LoginRole("app", config::PasswordSource::kEnv);
  app.password_env = "APP_PW";
  config::Role svc = LoginRole("svc", config::PasswordSource::kFile);
  svc.password_file = dir_ + "/svc.pw";
  WriteAll(svc.password_file, "from-file\r\nsecond line ignored\n");
  config::Role nopw = LoginRole("group", config::PasswordSource::kNone);
  nopw.login = false;
  config::Role gone = LoginRole("gone", config::PasswordSource::kGenerated);
  gone.state = config::ObjectState::kAbsent;
  inst_.roles = {app, svc, nopw, gone};

  auto r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (std::map<std::string, std::string>{
                    {"postgres", "super-secret"}, {"app", "app pw"}, {"svc", "from-file"}}));
  EXPECT_FALSE(fs::exists(secrets_)) << "nothing generated, nothing to save";
}

TEST_F(ResolvePasswordsTest, SuperuserListedAsRoleUsesSuperuserSource) {
  env_.vars = {{"PG_SUPER", "super-secret"}};
  inst_.superuser_password_source = config::PasswordSource::kEnv;
  inst_.superuser_password_env = "PG_SUPER";
  inst_.roles = {LoginRole("postgres", config::PasswordSource::kGenerated)};
  auto r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->at("postgres"), "super-secret");
}

TEST_F(ResolvePasswordsTest, UnsetOrEmptyEnvIsInvalidArgument) {
  config::Role app = LoginRole("app", config::PasswordSource::kEnv);
  app.password_env = "APP_PW";
  inst_.roles = {app};
  auto r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("APP_PW"), std::string::npos) << r.status().message();

  env_.vars["APP_PW"] = "";
  r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);

  inst_.roles.clear();
  inst_.superuser_password_source = config::PasswordSource::kEnv;
  inst_.superuser_password_env = "NOPE";
  r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(ResolvePasswordsTest, MissingOrEmptyPasswordFileIsInvalidArgument) {
  config::Role svc = LoginRole("svc", config::PasswordSource::kFile);
  svc.password_file = dir_ + "/missing.pw";
  inst_.roles = {svc};
  auto r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);

  inst_.roles[0].password_file = dir_ + "/empty.pw";
  WriteAll(inst_.roles[0].password_file, "\nsecond\n");
  r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
}

TEST_F(ResolvePasswordsTest, CreateFalseWritesNothing) {
  inst_.roles = {LoginRole("app", config::PasswordSource::kGenerated)};
  auto r = ResolvePasswords(inst_, secrets_, env_, /*create=*/false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(fs::exists(secrets_));
  EXPECT_FALSE(fs::exists(fs::path(secrets_).parent_path()));

  // Existing passwords are still returned; missing ones left out, file unchanged.
  WriteAll(secrets_, R"({"roles": {"postgres": "known"}})");
  std::string before = ReadAll(secrets_);
  r = ResolvePasswords(inst_, secrets_, env_, /*create=*/false);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (std::map<std::string, std::string>{{"postgres", "known"}}));
  EXPECT_EQ(ReadAll(secrets_), before);
}

TEST_F(ResolvePasswordsTest, CorruptSecretsFileIsAnError) {
  for (const char* text : {"not json", "[]", "{}", R"({"roles": []})", R"({"roles": "x"})"}) {
    WriteAll(secrets_, text);
    auto r = ResolvePasswords(inst_, secrets_, env_);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), Code::kInternal) << text;
    EXPECT_NE(r.status().message().find(secrets_), std::string::npos) << r.status().message();
    EXPECT_EQ(ReadAll(secrets_), text) << "a corrupt file must not be overwritten";
  }
}

TEST_F(ResolvePasswordsTest, NonStringEntryIsRegenerated) {
  WriteAll(secrets_, R"({"roles": {"postgres": 42, "other": "kept"}})");
  auto r = ResolvePasswords(inst_, secrets_, env_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->at("postgres").size(), 43u);
  auto doc = nlohmann::json::parse(ReadAll(secrets_));
  EXPECT_EQ(doc["roles"]["postgres"], r->at("postgres"));
  EXPECT_EQ(doc["roles"]["other"], "kept");
}

}  // namespace
}  // namespace tusk::postgres
