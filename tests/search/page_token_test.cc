// Page tokens: round trip, secrecy of the parameters, tamper detection, and the
// key file in the data directory.
#include "search/page_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace gm::search {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gm-token-XXXXXX").string();
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

PageState Sample() {
  PageState s;
  s.path = "Patient";
  s.params = {{"identifier", "urn:oid:2.16.578.1.12.4.1.4.1|31129956715"},
              {"_count", "2"},
              {"name", "Sørgård"}};
  s.cursor = "AQZzZWFyY2gDAAAA";
  s.direction = store::PageDirection::kBackward;
  return s;
}

TEST(PageToken, RoundTripHidesTheParameters) {
  auto codec = PageTokenCodec::Ephemeral();
  const PageState in = Sample();
  const std::string token = codec->Seal(in);
  EXPECT_EQ(token.rfind("p1.", 0), 0u);
  EXPECT_EQ(token.find("31129956715"), std::string::npos);
  EXPECT_EQ(token.find("identifier"), std::string::npos);
  for (char c : token) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')
        << "not URL-safe: " << c;
  }
  auto out = codec->Unseal(token);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->path, in.path);
  EXPECT_EQ(out->params, in.params);
  EXPECT_EQ(out->cursor, in.cursor);
  EXPECT_EQ(out->direction, in.direction);
  // Two seals of the same state differ (fresh nonce), both open.
  const std::string again = codec->Seal(in);
  EXPECT_NE(again, token);
  EXPECT_TRUE(codec->Unseal(again).ok());
}

TEST(PageToken, TamperedOrForeignTokensAreRefused) {
  auto codec = PageTokenCodec::Ephemeral();
  const std::string token = codec->Seal(Sample());
  for (size_t i = 3; i < token.size(); i += 7) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    auto r = codec->Unseal(bad);
    EXPECT_EQ(r.status().code(), "GM-SEARCH-040") << "position " << i;
  }
  EXPECT_EQ(codec->Unseal(token.substr(0, token.size() - 4)).status().code(), "GM-SEARCH-040");
  EXPECT_EQ(codec->Unseal("").status().code(), "GM-SEARCH-040");
  EXPECT_EQ(codec->Unseal("p1.!!").status().code(), "GM-SEARCH-040");
  EXPECT_EQ(codec->Unseal("p2." + token.substr(3)).status().code(), "GM-SEARCH-040");
  auto other = PageTokenCodec::Ephemeral();
  EXPECT_EQ(other->Unseal(token).status().code(), "GM-SEARCH-040");
}

TEST(PageToken, KeyFileIsCreatedOnceAndKept) {
  TempDir dir;
  auto first = PageTokenCodec::FromDirectory(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().message();
  const std::string key_path = dir.path() + "/" + PageTokenCodec::kKeyFile;
  struct stat st {};
  ASSERT_EQ(stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, static_cast<off_t>(PageTokenCodec::kKeyBytes));
  const std::string token = (*first)->Seal(Sample());
  // A restarted server reads the same key: its old links still work.
  auto second = PageTokenCodec::FromDirectory(dir.path());
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE((*second)->Unseal(token).ok());
  // A damaged key file is an error, not a silently different key.
  {
    std::ofstream f(key_path, std::ios::binary | std::ios::trunc);
    f << "short";
  }
  auto damaged = PageTokenCodec::FromDirectory(dir.path());
  EXPECT_EQ(damaged.status().code(), "GM-SEARCH-042");
}

}  // namespace
}  // namespace gm::search
