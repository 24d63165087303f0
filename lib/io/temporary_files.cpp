#include "lib/io/temporary_files.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

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

namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

bool is_all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// True when `pid` is the id of a process that exists, including one of another user
// (kill then fails with EPERM).
bool process_exists(long pid) { return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

}  // namespace

std::filesystem::path temporary_path_for(const std::filesystem::path& path) {
  static std::atomic<int> counter{0};
  std::filesystem::path temporary = path;
  temporary += ".tmp-" + host_name() + "-" + std::to_string(static_cast<long>(getpid())) + "-" +
               std::to_string(counter++);
  return temporary;
}

void remove_stale_temporary_files(const std::filesystem::path& path) {
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::string prefix = path.filename().string() + ".tmp-" + host_name() + "-";
  std::error_code error;
  std::filesystem::directory_iterator entries(folder, error);
  if (error) return;
  for (const std::filesystem::directory_entry& entry : entries) {
    // The rest of the name must be exactly "PID-N". A longer host name that starts
    // with this one ("node1" and "node1-2") leaves three fields and is skipped.
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string_view rest = std::string_view(name).substr(prefix.size());
    const std::size_t dash = rest.find('-');
    if (dash == std::string_view::npos) continue;
    const std::string_view pid_text = rest.substr(0, dash);
    if (!is_all_digits(pid_text) || !is_all_digits(rest.substr(dash + 1)) || pid_text.size() > 9) continue;
    const long pid = std::stol(std::string(pid_text));
    if (pid <= 0 || process_exists(pid)) continue;
    std::error_code ignored;
    if (entry.is_regular_file(ignored)) std::filesystem::remove(entry.path(), ignored);
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
