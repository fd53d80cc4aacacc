// Secrets: masking (every occurrence, longest first) and where secret values come from.

#include "pipeline/secrets.h"

#include <gtest/gtest.h>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::ScopedEnv;
using slipway::testing::TempDir;
using slipway::testing::WriteFile;

class SecretsTest : public ::testing::Test {
 protected:
  Masker masker_;
  SecretStore store_{masker_};
  TempDir tmp_;
};

TEST_F(SecretsTest, MaskerMasksEveryOccurrence) {
  masker_.Add("hunter2");
  EXPECT_EQ(masker_.Mask("pw=hunter2, again hunter2hunter2."), "pw=***, again ******.");
}

TEST_F(SecretsTest, MaskerMasksLongestSecretFirst) {
  masker_.Add("abc");
  masker_.Add("abcdef");  // added later, but contains the shorter one
  EXPECT_EQ(masker_.Mask("abcdef abc"), "*** ***");
}

TEST_F(SecretsTest, MaskerIgnoresEmptySecretsAndDuplicates) {
  EXPECT_TRUE(masker_.Empty());
  masker_.Add("");
  EXPECT_TRUE(masker_.Empty());
  masker_.Add("x1");
  masker_.Add("x1");
  EXPECT_FALSE(masker_.Empty());
  EXPECT_EQ(masker_.Mask("x1 y x1"), "*** y ***");
  EXPECT_EQ(masker_.Mask("nothing secret"), "nothing secret");
}

TEST_F(SecretsTest, SecretFromEnvironmentIsRegisteredForMasking) {
  ScopedEnv env("SLIPWAY_TEST_API_KEY", "k-123456");
  auto v = store_.Get("SLIPWAY_TEST_API_KEY");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(*v, "k-123456");
  EXPECT_EQ(masker_.Mask("curl -H 'X-Key: k-123456'"), "curl -H 'X-Key: ***'");
}

TEST_F(SecretsTest, SecretFromFileNamedByUnderscoreFileWithoutTrailingNewline) {
  ScopedEnv unset("SLIPWAY_TEST_DB_PASSWORD", std::nullopt);
  WriteFile(tmp_.File("pw"), "from-file-pw\n");
  ScopedEnv file("SLIPWAY_TEST_DB_PASSWORD_FILE", tmp_.File("pw"));
  auto v = store_.Get("SLIPWAY_TEST_DB_PASSWORD");
  ASSERT_TRUE(v.has_value()) << v.error().message;
  EXPECT_EQ(*v, "from-file-pw");
  EXPECT_EQ(masker_.Mask("pw from-file-pw"), "pw ***");
}

TEST_F(SecretsTest, UnreadableUnderscoreFileIsAnError) {
  ScopedEnv unset("SLIPWAY_TEST_DB_PASSWORD", std::nullopt);
  ScopedEnv file("SLIPWAY_TEST_DB_PASSWORD_FILE", tmp_.File("missing"));
  auto v = store_.Get("SLIPWAY_TEST_DB_PASSWORD");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message,
            "secret 'SLIPWAY_TEST_DB_PASSWORD': cannot read the file named by SLIPWAY_TEST_DB_PASSWORD_FILE");
}

TEST_F(SecretsTest, SecretsFileIsReadAndMaskedAtOnce) {
  WriteFile(tmp_.File("secrets.env"), "# comment\n\nSLIPWAY_TEST_A=alpha\nSLIPWAY_TEST_B=be=ta\n");
  ASSERT_TRUE(store_.LoadFile(tmp_.File("secrets.env")).has_value());
  // Registered when loaded, before anyone asks for them.
  EXPECT_EQ(masker_.Mask("alpha be=ta"), "*** ***");
  EXPECT_EQ(store_.Get("SLIPWAY_TEST_A").value(), "alpha");
  EXPECT_EQ(store_.Get("SLIPWAY_TEST_B").value(), "be=ta");
}

TEST_F(SecretsTest, SecretsFileWinsOverEnvironmentWhichWinsOverUnderscoreFile) {
  WriteFile(tmp_.File("secrets.env"), "SLIPWAY_TEST_A=from-secrets-file\n");
  WriteFile(tmp_.File("b"), "from-b-file");
  ScopedEnv a_env("SLIPWAY_TEST_A", "from-env");
  ScopedEnv b_env("SLIPWAY_TEST_B", "from-env");
  ScopedEnv b_file("SLIPWAY_TEST_B_FILE", tmp_.File("b"));
  ASSERT_TRUE(store_.LoadFile(tmp_.File("secrets.env")).has_value());
  EXPECT_EQ(store_.Get("SLIPWAY_TEST_A").value(), "from-secrets-file");
  EXPECT_EQ(store_.Get("SLIPWAY_TEST_B").value(), "from-env");
}

TEST_F(SecretsTest, MissingSecretSaysHowToProvideIt) {
  ScopedEnv unset("SLIPWAY_TEST_NOPE", std::nullopt);
  ScopedEnv unset_file("SLIPWAY_TEST_NOPE_FILE", std::nullopt);
  auto v = store_.Get("SLIPWAY_TEST_NOPE");
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().message,
            "secret 'SLIPWAY_TEST_NOPE' is not set; export SLIPWAY_TEST_NOPE, set SLIPWAY_TEST_NOPE_FILE to a file "
            "holding it, or pass --secrets-file");
}

TEST_F(SecretsTest, EmptyEnvironmentValueCountsAsNotSet) {
  ScopedEnv empty("SLIPWAY_TEST_EMPTY", "");
  ScopedEnv unset_file("SLIPWAY_TEST_EMPTY_FILE", std::nullopt);
  EXPECT_FALSE(store_.Get("SLIPWAY_TEST_EMPTY").has_value());
}

TEST_F(SecretsTest, SecretsFileWithBadLineNamesTheLine) {
  WriteFile(tmp_.File("secrets.env"), "A=1\nnot a pair\n");
  auto r = store_.LoadFile(tmp_.File("secrets.env"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(), tmp_.File("secrets.env") + ":2:1: expected KEY=VALUE");
}

TEST_F(SecretsTest, UnreadableSecretsFileIsAnError) {
  auto r = store_.LoadFile(tmp_.File("missing.env"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "--secrets-file: cannot read '" + tmp_.File("missing.env") + "'");
}

}  // namespace
}  // namespace slipway::pipeline
