#include "lib/io/temporary_files.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

namespace neurop::h5 {
namespace {

constexpr std::size_t kMaxTrackedFiles = 64;
constexpr std::size_t kMaxPathBytes = 4096;

enum SlotState : int { kFree = 0, kFilling = 1, kTracked = 2 };

// One tracked path. The handler copies `path` and deletes the copy only when `state`
// is kTracked before and after the copy and `generation` is unchanged. A slot that
// another thread releases and reuses during the copy is therefore skipped, instead of
// deleting a file whose name mixes two paths.
struct Slot {
  std::atomic<int> state{kFree};
  std::atomic<std::uint32_t> generation{0};
  char path[kMaxPathBytes] = {};
};

static_assert(std::atomic<int>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "the signal handler may only use lock-free atomics");

std::array<Slot, kMaxTrackedFiles> tracked_files;

// Runs in signal context, so it calls only async-signal-safe functions (unlink,
// sigaction, raise) and lock-free atomics.
extern "C" void remove_temporary_files_and_reraise(int signal_number) {
  for (Slot& slot : tracked_files) {
    if (slot.state.load(std::memory_order_acquire) != kTracked) continue;
    const std::uint32_t generation = slot.generation.load(std::memory_order_acquire);
    char path[kMaxPathBytes];
    std::size_t i = 0;
    for (; i + 1 < kMaxPathBytes && slot.path[i] != '\0'; ++i) path[i] = slot.path[i];
    path[i] = '\0';
    if (slot.state.load(std::memory_order_acquire) != kTracked ||
        slot.generation.load(std::memory_order_acquire) != generation)
      continue;
    unlink(path);
  }

  // The signal stays blocked until this handler returns, so the raised copy is
  // delivered then, with the default action: the process ends killed by the signal.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigaction(signal_number, &default_action, nullptr);
  raise(signal_number);
}

}  // namespace

void remove_temporary_files_on_signal() {
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) return;
  for (const int signal_number : {SIGINT, SIGTERM}) {
    struct sigaction current {};
    if (sigaction(signal_number, nullptr, &current) != 0) continue;
    const bool is_default = (current.sa_flags & SA_SIGINFO) == 0 && current.sa_handler == SIG_DFL;
    if (!is_default) continue;
    struct sigaction action {};
    action.sa_handler = remove_temporary_files_and_reraise;
    sigemptyset(&action.sa_mask);
    // Block the other signal too, so SIGTERM during the SIGINT cleanup waits for it.
    sigaddset(&action.sa_mask, SIGINT);
    sigaddset(&action.sa_mask, SIGTERM);
    sigaction(signal_number, &action, nullptr);
  }
}

TemporaryFileRegistration::TemporaryFileRegistration(const std::filesystem::path& path) {
  const std::string& text = path.native();
  if (text.size() + 1 > kMaxPathBytes) return;
  for (std::size_t i = 0; i < tracked_files.size(); ++i) {
    Slot& slot = tracked_files[i];
    int expected = kFree;
    if (!slot.state.compare_exchange_strong(expected, kFilling, std::memory_order_acq_rel)) continue;
    slot.generation.fetch_add(1, std::memory_order_acq_rel);
    std::memcpy(slot.path, text.c_str(), text.size() + 1);
    slot.state.store(kTracked, std::memory_order_release);
    slot_ = static_cast<int>(i);
    return;
  }
}

TemporaryFileRegistration::~TemporaryFileRegistration() {
  if (slot_ >= 0) tracked_files[static_cast<std::size_t>(slot_)].state.store(kFree, std::memory_order_release);
}

}  // namespace neurop::h5
