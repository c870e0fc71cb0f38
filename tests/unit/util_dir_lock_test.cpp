// DirLock: one writer per directory, waiting or refusing, never blocked by a dead holder.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "hpn/util/dir_lock.hpp"
#include "support/testenv.hpp"

using hpn::ErrorKind;
using hpn::util::DirLock;
namespace fs = std::filesystem;

namespace {

DirLock::Options no_wait(const std::string& what = "saving into test") {
  DirLock::Options o;
  o.what = what;
  o.wait = false;
  return o;
}

}  // namespace

TEST(DirLock, SecondLockWithoutWaitNamesTheHolder) {
  hpn::test::TempDir dir;
  auto first = DirLock::acquire(dir.path(), no_wait("saving into " + dir.path().string()));
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = DirLock::acquire(dir.path(), no_wait());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::conflict);
  EXPECT_NE(second.error().message.find("hpn (pid " + std::to_string(::getpid()) + ") saving into " +
                                        dir.path().string()),
            std::string::npos)
      << second.error().message;
}

TEST(DirLock, ReleaseRemovesTheFileAndFreesTheDirectory) {
  hpn::test::TempDir dir;
  {
    auto lock = DirLock::acquire(dir.path(), no_wait());
    ASSERT_TRUE(lock.ok());
    EXPECT_TRUE(fs::exists(dir / hpn::util::k_dir_lock_name));
  }
  EXPECT_FALSE(fs::exists(dir / hpn::util::k_dir_lock_name));
  EXPECT_TRUE(DirLock::acquire(dir.path(), no_wait()).ok());
}

TEST(DirLock, WaiterAnnouncesOnceAndGetsTheLockWhenTheHolderReleases) {
  hpn::test::TempDir dir;
  auto held = std::make_unique<std::optional<DirLock>>();
  {
    auto lock = DirLock::acquire(dir.path(), no_wait("saving into first"));
    ASSERT_TRUE(lock.ok());
    held->emplace(std::move(*lock));
  }
  std::atomic<int> announced{0};
  std::string holder;
  std::atomic<bool> released{false};
  std::thread releaser([&] {
    while (announced.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    released = true;
    held->reset();
  });
  DirLock::Options o;
  o.what = "saving into second";
  o.on_wait = [&](const DirLock::Holder& h) {
    holder = h.describe();
    ++announced;
  };
  auto second = DirLock::acquire(dir.path(), o);
  releaser.join();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE(released.load()) << "the lock was granted while the first holder still had it";
  EXPECT_EQ(announced.load(), 1);
  EXPECT_NE(holder.find("saving into first"), std::string::npos) << holder;
}

TEST(DirLock, WaitStopsWhenInterrupted) {
  hpn::test::TempDir dir;
  auto first = DirLock::acquire(dir.path(), no_wait());
  ASSERT_TRUE(first.ok());
  std::atomic<bool> stop{false};
  DirLock::Options o;
  o.interrupt = &stop;
  o.on_wait = [&](const DirLock::Holder&) { stop = true; };
  auto second = DirLock::acquire(dir.path(), o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().kind, ErrorKind::cancelled);
}

TEST(DirLock, AHolderKilledWithSigkillDoesNotBlockTheNextRun) {
  hpn::test::TempDir dir;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = DirLock::acquire(dir.path(), no_wait("saving into child"));
    const char c = lock.ok() ? 'y' : 'n';
    (void)::write(ready[1], &c, 1);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(c, 'y');
  auto busy = DirLock::acquire(dir.path(), no_wait());
  ASSERT_FALSE(busy.ok()) << "the child's lock was not seen";
  EXPECT_NE(busy.error().message.find("pid " + std::to_string(child)), std::string::npos) << busy.error().message;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_TRUE(fs::exists(dir / hpn::util::k_dir_lock_name)) << "a killed holder leaves its file behind";
  auto next = DirLock::acquire(dir.path(), no_wait());
  EXPECT_TRUE(next.ok()) << next.error().message;
}
