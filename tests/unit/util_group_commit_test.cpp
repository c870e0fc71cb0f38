#include "hpn/util/group_commit.hpp"

#include <atomic>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

namespace fs = std::filesystem;
using hpn::util::AtomicFile;
using hpn::util::PendingGroup;
using hpn::util::GroupCommit;

namespace {

// An archive the caller wrote, and its sidecar left to the commit thread.
PendingGroup written(const fs::path& archive, const std::string& body) {
  PendingGroup g;
  auto a = AtomicFile::create(archive);
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(a->write(body).ok());
  g.files.push_back(std::move(*a));
  fs::path side = archive;
  side += ".sha256";
  g.small_files.emplace_back(side, "digest of " + body);
  return g;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST(GroupCommit, NoFinalNameUntilTheGroupIsSynced) {
  hpn::test::TempDir dir;
  GroupCommit commits(std::chrono::seconds(30));  // a window the test never reaches
  std::atomic<bool> done{false};
  bool archive_named_in_callback = false;
  commits.submit(written(dir / "a.tar", "aaa"), [&](hpn::Status st) {
    EXPECT_TRUE(st.ok());
    archive_named_in_callback = fs::exists(dir / "a.tar") && fs::exists(dir / "a.tar.sha256");
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load());
  EXPECT_FALSE(fs::exists(dir / "a.tar"));
  EXPECT_TRUE(fs::exists(dir / "a.tar.part"));
  commits.drain();  // at batch end: commit now instead of waiting out the window
  EXPECT_TRUE(done.load());
  EXPECT_TRUE(archive_named_in_callback);
  EXPECT_EQ(slurp(dir / "a.tar"), "aaa");
  EXPECT_EQ(slurp(dir / "a.tar.sha256"), "digest of aaa");
  EXPECT_FALSE(fs::exists(dir / "a.tar.part"));
  EXPECT_FALSE(fs::exists(dir / "a.tar.sha256.part"));
}

TEST(GroupCommit, ManyGroupsFromManyThreadsShareOneSync) {
  hpn::test::TempDir dir;
  GroupCommit commits(std::chrono::seconds(30), 1000);
  std::atomic<int> ok{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < 10; ++i) {
        const auto name = "img" + std::to_string(w) + "_" + std::to_string(i) + ".tar";
        commits.submit(written(dir / name, name), [&](hpn::Status st) { ok += st.ok() ? 1 : 0; });
      }
    });
  }
  for (auto& t : workers) t.join();
  commits.drain();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(commits.groups(), 40u);
  EXPECT_EQ(commits.rounds(), 1u);
  EXPECT_EQ(commits.filesystem_syncs(), 1u);  // 80 files: one syncfs
  EXPECT_EQ(slurp(dir / "img3_7.tar"), "img3_7.tar");
}

TEST(GroupCommit, FullQueueSyncsWithoutWaitingForTheWindow) {
  hpn::test::TempDir dir;
  GroupCommit commits(std::chrono::seconds(30), 3);
  std::atomic<int> done{0};
  for (int i = 0; i < 3; ++i) {
    commits.submit(written(dir / ("f" + std::to_string(i) + ".tar"), "x"), [&](hpn::Status) { ++done; });
  }
  for (int spin = 0; spin < 500 && done.load() < 3; ++spin) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(done.load(), 3);  // well before the 30 s window
  EXPECT_TRUE(fs::exists(dir / "f2.tar"));
}

TEST(GroupCommit, AFailedSidecarTakesItsArchiveBackAndSparesTheOthers) {
  hpn::test::TempDir dir;
  // The sidecar's final name is an existing non-empty directory: its rename fails.
  fs::create_directories(dir / "bad.tar.sha256" / "occupied");
  GroupCommit commits(std::chrono::seconds(30));
  std::optional<hpn::Status> bad, good;
  commits.submit(written(dir / "bad.tar", "b"), [&](hpn::Status st) { bad = st; });
  commits.submit(written(dir / "good.tar", "g"), [&](hpn::Status st) { good = st; });
  commits.drain();
  ASSERT_TRUE(bad.has_value());
  ASSERT_FALSE(bad->ok());
  EXPECT_NE(bad->error().message.find("bad.tar.sha256"), std::string::npos) << bad->error().message;
  EXPECT_FALSE(fs::exists(dir / "bad.tar"));  // published first, then removed with its group
  EXPECT_FALSE(fs::exists(dir / "bad.tar.part"));
  EXPECT_FALSE(fs::exists(dir / "bad.tar.sha256.part"));
  ASSERT_TRUE(good.has_value());
  EXPECT_TRUE(good->ok());
  EXPECT_EQ(slurp(dir / "good.tar"), "g");
}

TEST(GroupCommit, ASmallFileThatCannotBeWrittenKeepsItsArchiveUnnamed) {
  hpn::test::TempDir dir;
  GroupCommit commits(std::chrono::seconds(30));
  auto g = written(dir / "lonely.tar", "l");
  g.small_files[0].first = dir / "missing-dir" / "lonely.tar.sha256";
  auto st = commits.commit(std::move(g));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("missing-dir/lonely.tar.sha256.part"), std::string::npos) << st.error().message;
  EXPECT_FALSE(fs::exists(dir / "lonely.tar"));
  EXPECT_FALSE(fs::exists(dir / "lonely.tar.part"));
}

TEST(GroupCommit, CommitWaitsForItsOwnGroup) {
  hpn::test::TempDir dir;
  GroupCommit commits(std::chrono::seconds(30));
  ASSERT_TRUE(commits.commit(written(dir / "one.tar", "1")).ok());
  EXPECT_EQ(slurp(dir / "one.tar"), "1");
  EXPECT_EQ(slurp(dir / "one.tar.sha256"), "digest of 1");
  EXPECT_EQ(commits.rounds(), 1u);
  EXPECT_EQ(commits.filesystem_syncs(), 0u);  // two files: fsynced one by one
}

TEST(GroupCommit, DestructionCommitsWhatIsQueued) {
  hpn::test::TempDir dir;
  bool done = false;
  {
    GroupCommit commits(std::chrono::seconds(30));
    commits.submit(written(dir / "late.tar", "l"), [&](hpn::Status st) { done = st.ok(); });
  }
  EXPECT_TRUE(done);
  EXPECT_EQ(slurp(dir / "late.tar"), "l");
}

TEST(GroupCommit, OnlyLargeFilesStartTheirWritebackAtSubmit) {
  hpn::test::TempDir dir;
  GroupCommit commits;
  ASSERT_TRUE(commits.commit(written(dir / "small.tar", "tiny")).ok());
  EXPECT_EQ(commits.writeback_hints(), 0u);  // left to the round's sync
  const std::string big(GroupCommit::k_early_writeback_bytes, 'x');
  ASSERT_TRUE(commits.commit(written(dir / "big.tar", big)).ok());
  EXPECT_EQ(commits.writeback_hints(), 1u);
  EXPECT_EQ(fs::file_size(dir / "big.tar"), big.size());
  EXPECT_EQ(slurp(dir / "small.tar"), "tiny");
  // A file whose every byte write() already handed to the writeback is not counted again.
  const std::string step(AtomicFile::k_writeback_step_bytes, 'y');
  ASSERT_TRUE(commits.commit(written(dir / "step.tar", step)).ok());
  EXPECT_EQ(commits.writeback_hints(), 1u);
  EXPECT_EQ(fs::file_size(dir / "step.tar"), step.size());
}

TEST(GroupCommit, DrainWithNothingQueuedReturns) {
  GroupCommit commits;
  commits.drain();
  EXPECT_EQ(commits.rounds(), 0u);
}

TEST(AtomicFile, SyncAfterCloseReopensThePartFile) {
  hpn::test::TempDir dir;
  auto f = AtomicFile::create(dir / "c.tar");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->write("data").ok());
  ASSERT_TRUE(f->close().ok());
  ASSERT_TRUE(f->sync().ok());
  ASSERT_TRUE(f->publish().ok());
  EXPECT_EQ(slurp(dir / "c.tar"), "data");
  EXPECT_FALSE(f->publish().ok());  // a second publish is refused
}
