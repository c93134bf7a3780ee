// Rendering of tusk.conf, pg_hba.conf and pg_ident.conf (pure), and DataDirEmpty.
#include "postgres/server_files.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace tusk::postgres {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Lines that are neither comments nor blank.
std::vector<std::string> ActiveLines(const std::string& text) {
  std::vector<std::string> out;
  for (auto& l : Lines(text)) {
    if (!l.empty() && l[0] != '#') out.push_back(l);
  }
  return out;
}

bool HasLine(const std::string& text, const std::string& line) {
  for (const auto& l : Lines(text)) {
    if (l == line) return true;
  }
  return false;
}

config::Instance MakeInstance() {
  config::Instance i;
  i.name = "main";
  i.port = 5433;
  i.listen = "127.0.0.1";
  i.superuser = "postgres";
  i.data_dir = "/srv/pg/main";
  return i;
}

Setting S(std::string name, std::string value, bool overridden = false) {
  Setting s;
  s.name = std::move(name);
  s.value = std::move(value);
  s.overridden = overridden;
  return s;
}

TEST(RenderTuskConfTest, ConnectionSettings) {
  config::Instance inst = MakeInstance();
  inst.listen = "*";
  std::string conf = RenderTuskConf(inst, TuningResult{}, "/run/tusk/main");
  EXPECT_TRUE(HasLine(conf, "listen_addresses = '*'")) << conf;
  EXPECT_TRUE(HasLine(conf, "port = 5433")) << conf;
  EXPECT_TRUE(HasLine(conf, "unix_socket_directories = '/run/tusk/main'")) << conf;
  EXPECT_TRUE(HasLine(conf, "password_encryption = 'scram-sha-256'")) << conf;
}

TEST(RenderTuskConfTest, TunedSettingsWithQuotingWhereNeeded) {
  TuningResult t;
  t.settings = {S("shared_buffers", "2GB"),
                S("random_page_cost", "1.1"),
                S("huge_pages", "try"),
                S("jit", "off", true),
                S("search_path", "\"$user\", public"),
                S("application_name", "it's mine"),
                S("log_timezone", "")};
  std::string conf = RenderTuskConf(MakeInstance(), t, "/tmp");
  EXPECT_TRUE(HasLine(conf, "shared_buffers = 2GB")) << conf;
  EXPECT_TRUE(HasLine(conf, "random_page_cost = 1.1")) << conf;
  EXPECT_TRUE(HasLine(conf, "huge_pages = try")) << conf;
  EXPECT_TRUE(HasLine(conf, "jit = off  # explicit in tusk.yaml")) << conf;
  EXPECT_TRUE(HasLine(conf, "search_path = '\"$user\", public'")) << conf;
  EXPECT_TRUE(HasLine(conf, "application_name = 'it''s mine'")) << conf;
  EXPECT_TRUE(HasLine(conf, "log_timezone = ''")) << conf;
}

TEST(RenderTuskConfTest, QuotesListenAndSocketDir) {
  config::Instance inst = MakeInstance();
  inst.listen = "127.0.0.1, ::1";
  std::string conf = RenderTuskConf(inst, TuningResult{}, "/tmp/o'brien dir");
  EXPECT_TRUE(HasLine(conf, "listen_addresses = '127.0.0.1, ::1'")) << conf;
  EXPECT_TRUE(HasLine(conf, "unix_socket_directories = '/tmp/o''brien dir'")) << conf;
}

TEST(RenderTuskConfTest, FixedSettingsAreNotOverriddenByTuning) {
  TuningResult t;
  t.settings = {S("port", "9999", true), S("listen_addresses", "0.0.0.0", true),
                S("unix_socket_directories", "/elsewhere", true),
                S("password_encryption", "md5", true), S("work_mem", "4MB")};
  std::string conf = RenderTuskConf(MakeInstance(), t, "/tmp");
  int port_lines = 0;
  for (const auto& l : ActiveLines(conf)) {
    if (l.rfind("port ", 0) == 0) ++port_lines;
    EXPECT_EQ(l.find("9999"), std::string::npos) << l;
    EXPECT_EQ(l.find("0.0.0.0"), std::string::npos) << l;
    EXPECT_EQ(l.find("/elsewhere"), std::string::npos) << l;
    EXPECT_EQ(l.find("md5"), std::string::npos) << l;
  }
  EXPECT_EQ(port_lines, 1);
  EXPECT_TRUE(HasLine(conf, "work_mem = 4MB"));
}

TEST(RenderTuskConfTest, EveryActiveLineIsNameEqualsValue) {
  TuningResult t;
  t.settings = {S("a", "1"), S("b", "x y")};
  for (const auto& l : ActiveLines(RenderTuskConf(MakeInstance(), t, "/tmp"))) {
    EXPECT_NE(l.find(" = "), std::string::npos) << l;
  }
}

TEST(RenderHbaTest, ControlLineFirst) {
  config::Instance inst = MakeInstance();
  inst.superuser = "admin";
  inst.hba = {{"host", "all", "all", "127.0.0.1/32", "scram-sha-256"},
              {"local", "app", "app", "", "peer"}};
  auto lines = ActiveLines(RenderHba(inst));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "local all admin peer map=tusk");
  EXPECT_EQ(lines[1], "host all all 127.0.0.1/32 scram-sha-256");
  EXPECT_EQ(lines[2], "local app app peer");
}

TEST(RenderHbaTest, DoesNotDuplicateControlLine) {
  config::Instance inst = MakeInstance();
  inst.hba = {{"local", "all", "postgres", "", "peer map=tusk"},
              {"host", "all", "all", "::1/128", "scram-sha-256"}};
  auto lines = ActiveLines(RenderHba(inst));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "local all postgres peer map=tusk");
  EXPECT_EQ(lines[1], "host all all ::1/128 scram-sha-256");
}

TEST(RenderHbaTest, NoRulesStillHasControlLine) {
  auto lines = ActiveLines(RenderHba(MakeInstance()));
  EXPECT_EQ(lines, (std::vector<std::string>{"local all postgres peer map=tusk"}));
}

TEST(RenderIdentTest, ServerAccountAndInvoker) {
  auto lines = ActiveLines(RenderIdent(MakeInstance(), "postgres", "alice"));
  EXPECT_EQ(lines, (std::vector<std::string>{"tusk postgres postgres", "tusk alice postgres"}));
}

TEST(RenderIdentTest, InvokerIsServerAccountGivesOneLine) {
  config::Instance inst = MakeInstance();
  inst.superuser = "root_pg";
  auto lines = ActiveLines(RenderIdent(inst, "bob", "bob"));
  EXPECT_EQ(lines, (std::vector<std::string>{"tusk bob root_pg"}));
}

TEST(TuningInputForTest, CopiesResources) {
  config::Instance inst = MakeInstance();
  inst.memory_bytes = 4ull << 30;
  inst.cpus = 3;
  inst.storage = config::Storage::kHdd;
  inst.max_connections = 42;
  inst.profile = config::Profile::kOlap;
  inst.parameters = {{"jit", "off"}};
  TuningInput in = TuningInputFor(inst);
  EXPECT_EQ(in.memory_bytes, 4ull << 30);
  EXPECT_EQ(in.cpus, 3);
  EXPECT_EQ(in.storage, config::Storage::kHdd);
  EXPECT_EQ(in.max_connections, 42);
  EXPECT_EQ(in.profile, config::Profile::kOlap);
  EXPECT_EQ(in.overrides, inst.parameters);
}

class DataDirEmptyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tusk-server-files-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(DataDirEmptyTest, MissingAndEmptyAreEmpty) {
  EXPECT_TRUE(DataDirEmpty(dir_));
  EXPECT_TRUE(DataDirEmpty(dir_ + "/does/not/exist"));
}

TEST_F(DataDirEmptyTest, DirectoryWithAFileIsNotEmpty) {
  std::ofstream(dir_ + "/PG_VERSION") << "15\n";
  EXPECT_FALSE(DataDirEmpty(dir_));
  EXPECT_EQ(DataDirMajorVersion(dir_), 15);
}

TEST_F(DataDirEmptyTest, DirectoryWithHiddenSubdirIsNotEmpty) {
  std::filesystem::create_directory(dir_ + "/.x");
  EXPECT_FALSE(DataDirEmpty(dir_));
}

TEST_F(DataDirEmptyTest, RegularFileIsNotAnEmptyDataDir) {
  std::string f = dir_ + "/file";
  std::ofstream(f) << "x";
  EXPECT_FALSE(DataDirEmpty(f));
  EXPECT_EQ(DataDirMajorVersion(dir_), 0);
}

}  // namespace
}  // namespace tusk::postgres
