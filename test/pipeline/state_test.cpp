// The checkpoint store: atomic replacement under injected crashes, the journal, and refusal to
// touch damaged or newer state files.

#include "pipeline/state.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "test/pipeline/testing.h"

namespace slipway::pipeline {
namespace {

using slipway::testing::ReadFile;
using slipway::testing::TempDir;
using slipway::testing::WriteFile;

class StateStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> Open(bool fresh = false) {
    auto s = StateStore::Open(tmp_.Path(), "shop", masker_, fresh);
    EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
    return s ? std::move(*s) : nullptr;
  }
  static StepState Succeeded(const std::string& fingerprint) {
    StepState s;
    s.status = "succeeded";
    s.kind = "run";
    s.fingerprint = fingerprint;
    s.outputs = {{"k", "v"}};
    return s;
  }
  std::string Snapshot() const { return ReadFile(tmp_.File("shop.json")); }

  TempDir tmp_;
  Masker masker_;
};

TEST_F(StateStoreTest, TransitionsSurviveWithoutCompactionThroughTheJournal) {
  {
    auto store = Open();
    store->PutStep("a", Succeeded("fa"));
    store->PutStep("b", Succeeded("fb"));
    store->Sync();
  }  // no compaction: as if the process had been killed
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->steps.at("a").fingerprint, "fa");
  EXPECT_EQ(loaded->steps.at("b").status, "succeeded");
  EXPECT_EQ(loaded->steps.at("b").outputs.at("k"), "v");
  EXPECT_EQ(loaded->revision, 2u);
}

TEST_F(StateStoreTest, CrashBetweenWriteAndRenameLeavesThePreviousSnapshotIntact) {
  auto store = Open();
  store->PutStep("a", Succeeded("first"));
  ASSERT_TRUE(store->Compact());
  std::string before = Snapshot();
  ASSERT_NE(before.find("\"first\""), std::string::npos);

  store->PutStep("a", Succeeded("second"));
  std::vector<std::string> points;
  auto crashed = store->Compact([&](const char* point) {
    points.push_back(point);
    return std::string(point) != "written";  // die after the temp file is fsynced, before rename
  });
  ASSERT_FALSE(crashed);
  EXPECT_NE(crashed.error().message.find("injected failure before rename"), std::string::npos);
  EXPECT_EQ(points, std::vector<std::string>{"written"});
  EXPECT_EQ(Snapshot(), before) << "the live snapshot must not change before the rename";
  // No temp file is left behind, and the journal still has the newer transition.
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->steps.at("a").fingerprint, "second");
}

TEST_F(StateStoreTest, CrashAfterRenameHasTheNewSnapshotAndTheOldOneAsBak) {
  auto store = Open();
  store->PutStep("a", Succeeded("first"));
  ASSERT_TRUE(store->Compact());
  std::string first = Snapshot();
  store->PutStep("a", Succeeded("second"));
  auto crashed = store->Compact([](const char* point) { return std::string(point) != "renamed"; });
  ASSERT_FALSE(crashed);
  EXPECT_NE(Snapshot().find("\"second\""), std::string::npos);
  EXPECT_EQ(ReadFile(tmp_.File("shop.json.bak")), first);
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->steps.at("a").fingerprint, "second");
}

TEST_F(StateStoreTest, FilesAreOwnerOnly) {
  auto store = Open();
  store->PutStep("a", Succeeded("f"));
  ASSERT_TRUE(store->Compact());
  struct stat st {};
  ASSERT_EQ(::stat(tmp_.File("shop.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(tmp_.File("shop.journal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(StateStoreTest, TruncatedSnapshotIsAnErrorAndIsNotOverwritten) {
  {
    auto store = Open();
    store->PutStep("a", Succeeded("f"));
    ASSERT_TRUE(store->Compact());
    store->PutStep("b", Succeeded("g"));
    ASSERT_TRUE(store->Compact());  // now shop.json.bak exists
  }
  std::string good = Snapshot();
  std::string truncated = good.substr(0, good.size() / 2);
  WriteFile(tmp_.File("shop.json"), truncated);
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("is corrupt or truncated"), std::string::npos) << loaded.error().message;
  EXPECT_NE(loaded.error().message.find("shop.json.bak"), std::string::npos) << "names the good copy";
  auto opened = StateStore::Open(tmp_.Path(), "shop", masker_, /*fresh=*/false);
  ASSERT_FALSE(opened);
  EXPECT_EQ(Snapshot(), truncated) << "a damaged state file is never overwritten silently";
}

TEST_F(StateStoreTest, NewerFormatVersionIsRefused) {
  WriteFile(tmp_.File("shop.json"), R"({"version": 7, "plan": "shop", "revision": 3, "steps": {}})");
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("written by a newer slipway (format version 7, this one reads up to 1)"),
            std::string::npos)
      << loaded.error().message;
  EXPECT_FALSE(StateStore::Open(tmp_.Path(), "shop", masker_, false));
  EXPECT_EQ(ReadFile(tmp_.File("shop.json")), R"({"version": 7, "plan": "shop", "revision": 3, "steps": {}})");
}

TEST_F(StateStoreTest, TornLastJournalLineIsIgnoredButDamageInTheMiddleIsAnError) {
  {
    auto store = Open();
    store->PutStep("a", Succeeded("fa"));
    store->Sync();
  }
  std::string journal = ReadFile(tmp_.File("shop.journal"));
  WriteFile(tmp_.File("shop.journal"), journal + R"({"rev": 2, "step": "b", "sta)");  // a crash mid-append
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->steps.count("b"), 0u);
  EXPECT_EQ(loaded->steps.at("a").fingerprint, "fa");

  WriteFile(tmp_.File("shop.journal"), "garbage\n" + journal);
  auto damaged = LoadState(tmp_.Path(), "shop");
  ASSERT_FALSE(damaged);
  EXPECT_NE(damaged.error().message.find("is corrupt at line 1"), std::string::npos) << damaged.error().message;
}

TEST_F(StateStoreTest, FreshOverDamagedStateKeepsTheDamagedFileAside) {
  WriteFile(tmp_.File("shop.json"), "{not json");
  auto store = Open(/*fresh=*/true);
  ASSERT_NE(store, nullptr);
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(tmp_.Path()))
    if (e.path().filename().string().rfind("shop.json.corrupt.", 0) == 0) {
      aside = true;
      EXPECT_EQ(ReadFile(e.path().string()), "{not json");
    }
  EXPECT_TRUE(aside);
  auto loaded = LoadState(tmp_.Path(), "shop");
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_TRUE(loaded->steps.empty());
}

TEST_F(StateStoreTest, SecretsAreMaskedBeforeAnythingIsWritten) {
  masker_.Add("hunter2-secret");
  {
    auto store = Open();
    StepState s = Succeeded("f");
    s.outputs["token"] = "hunter2-secret";
    s.rendered = {{"with", {{"password", "hunter2-secret"}}}};
    StepState stored = store->PutStep("a", s);
    EXPECT_TRUE(stored.masked);
    store->Sync();
  }
  EXPECT_EQ(ReadFile(tmp_.File("shop.journal")).find("hunter2-secret"), std::string::npos);
  {
    auto store = Open();
    ASSERT_TRUE(store->Compact());
  }
  EXPECT_EQ(Snapshot().find("hunter2-secret"), std::string::npos);
  EXPECT_NE(Snapshot().find("***"), std::string::npos);
}

}  // namespace
}  // namespace slipway::pipeline
