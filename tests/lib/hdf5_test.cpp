#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"

namespace fs = std::filesystem;
using neurop::FileError;
namespace h5 = neurop::h5;

namespace {

fs::path scratch_folder() {
  const fs::path folder = fs::temp_directory_path() / fmt::format("neurop-hdf5-test-{}", ::getpid());
  fs::create_directories(folder);
  return folder;
}

}  // namespace

TEST_CASE("hdf5 round trip of arrays and attributes") {
  const fs::path path = scratch_folder() / "round_trip.h5";
  {
    h5::File file = h5::File::create(path);
    const std::vector<double> values = {1.5, -2.25, 3.0, 4.0, 5.0, 6.125};
    const std::vector<float> floats = {0.5f, 0.25f};
    const std::vector<std::int64_t> integers = {7, -8, 9};
    file.write("group/values", {2, 3}, values.data());
    file.write("floats", {2}, floats.data());
    file.write("integers", {3}, integers.data());
    file.set_attribute("/", "name", std::string("burgers"));
    file.set_attribute("/", "nu", 0.1);
    file.set_attribute("/", "seed", std::int64_t{42});
    file.set_attribute("group/values", "list", std::vector<double>{1.0, 2.0});
  }
  const h5::File file = h5::File::open(path);
  h5::Shape shape;
  const std::vector<double> values = file.read_f64("group/values", &shape);
  CHECK(shape == h5::Shape{2, 3});
  CHECK(values == std::vector<double>{1.5, -2.25, 3.0, 4.0, 5.0, 6.125});
  CHECK(file.read_rows_f64("group/values", 1, 1) == std::vector<double>{4.0, 5.0, 6.125});
  CHECK(file.read_f32("floats") == std::vector<float>{0.5f, 0.25f});
  CHECK(file.read_i64("integers") == std::vector<std::int64_t>{7, -8, 9});
  CHECK(file.element_type("floats") == h5::ElementType::f32);
  CHECK(file.attribute_string("/", "name") == "burgers");
  CHECK(file.attribute_f64("/", "nu") == 0.1);
  CHECK(file.attribute_i64("/", "seed") == 42);
  CHECK(file.attribute_f64_vector("group/values", "list") == std::vector<double>{1.0, 2.0});
  CHECK(file.exists("group/values"));
  CHECK_FALSE(file.exists("group/missing"));
  CHECK_FALSE(file.exists("missing/values"));
  CHECK(file.list("/") == std::vector<std::string>{"floats", "group", "integers"});
}

TEST_CASE("hdf5 missing and corrupt files") {
  const fs::path folder = scratch_folder();
  CHECK_THROWS_AS(h5::File::open(folder / "does_not_exist.h5"), FileError);
  const fs::path corrupt = folder / "corrupt.h5";
  std::ofstream(corrupt) << "this is not an HDF5 file";
  CHECK_THROWS_AS(h5::File::open(corrupt), FileError);
  const fs::path path = folder / "attributes.h5";
  h5::File file = h5::File::create(path);
  CHECK_THROWS_AS(file.read_f64("absent"), FileError);
  CHECK_THROWS_AS(file.attribute_f64("/", "absent"), FileError);
}

TEST_CASE("atomic writer leaves no partial file") {
  const fs::path path = scratch_folder() / "atomic.h5";
  fs::remove(path);
  fs::path temporary;
  try {
    h5::AtomicWriter writer(path);
    temporary = writer.temporary_path();
    const double value = 1.0;
    writer.file().write("value", {1}, &value);
    CHECK(fs::exists(temporary));
    throw std::runtime_error("interrupted");
  } catch (const std::runtime_error&) {
  }
  CHECK_FALSE(fs::exists(path));
  CHECK_FALSE(fs::exists(temporary));

  {
    h5::AtomicWriter writer(path);
    const double value = 2.0;
    writer.file().write("value", {1}, &value);
    writer.commit();
  }
  CHECK(h5::File::open(path).read_f64("value") == std::vector<double>{2.0});
}

namespace {

// Writes a file of about 800 kB (a [100000] float64 data set and root attributes),
// large enough that damage past its first kilobytes hits data and metadata.
fs::path write_large_file(const fs::path& path) {
  h5::File file = h5::File::create(path);
  std::vector<double> values(100000);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i);
  file.write("inputs", {static_cast<std::int64_t>(values.size())}, values.data());
  file.set_attribute("/", "format", std::string("test"));
  file.set_attribute("/", "seed", std::int64_t{1});
  return path;
}

// Opens `path` and reads what a data-set reader reads first. Returns the message of
// the first FileError, or an empty string when every read succeeds.
std::string first_read_error(const fs::path& path) {
  try {
    const h5::File file = h5::File::open(path);
    (void)file.attribute_string("/", "format");
    (void)file.read_f64("inputs");
  } catch (const FileError& error) {
    return error.what();
  }
  return "";
}

}  // namespace

TEST_CASE("hdf5 truncated file names the cause and fix") {
  const fs::path folder = scratch_folder();
  const fs::path good = write_large_file(folder / "good.h5");
  const fs::path truncated = folder / "truncated.h5";
  fs::copy_file(good, truncated, fs::copy_options::overwrite_existing);
  fs::resize_file(truncated, fs::file_size(good) / 2);

  const std::string message = first_read_error(truncated);
  INFO(message);
  CHECK(message.find(truncated.string()) != std::string::npos);
  CHECK(message.find("truncated or corrupt") != std::string::npos);
  CHECK(message.find("copy it again") != std::string::npos);
}

TEST_CASE("hdf5 file zeroed past its header names the cause and fix") {
  const fs::path folder = scratch_folder();
  const fs::path good = write_large_file(folder / "good_zeroed.h5");
  const fs::path zeroed = folder / "zeroed.h5";
  fs::copy_file(good, zeroed, fs::copy_options::overwrite_existing);
  const auto size = fs::file_size(good);
  fs::resize_file(zeroed, 3000);
  fs::resize_file(zeroed, size);  // the bytes past 3000 now read as zeros

  const std::string message = first_read_error(zeroed);
  INFO(message);
  CHECK(message.find(zeroed.string()) != std::string::npos);
  CHECK(message.find("truncated or corrupt") != std::string::npos);
  CHECK(message.find("copy it again") != std::string::npos);
}

TEST_CASE("atomic writer temporary file removed on SIGINT and SIGTERM") {
  const fs::path folder = scratch_folder() / "signal";
  fs::create_directories(folder);
  for (const int signal_number : {SIGINT, SIGTERM}) {
    CAPTURE(signal_number);
    for (const auto& entry : fs::directory_iterator(folder)) fs::remove(entry.path());
    const fs::path path = folder / "interrupted.h5";

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // The child writes half a file and is interrupted, as by Ctrl-C or `kill`. It
      // starts from the default actions, as a program does, because doctest installs
      // its own handlers for crash reports and the function keeps a host's handlers.
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      h5::remove_temporary_files_on_signal();
      h5::AtomicWriter writer(path);
      const std::vector<double> values(1000, 1.0);
      writer.file().write("values", {1000}, values.data());
      if (!fs::exists(writer.temporary_path())) ::_exit(10);
      ::raise(signal_number);
      ::_exit(11);  // reached only when the signal did not end the process
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("child exit code (10: no temporary file, 11: signal ignored): "
         << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == signal_number);
    CHECK(fs::is_empty(folder));
  }
}

TEST_CASE("temporary file cleanup keeps a host's signal action") {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_DFL);
    h5::remove_temporary_files_on_signal();
    struct sigaction interrupt {}, terminate {};
    ::sigaction(SIGINT, nullptr, &interrupt);
    ::sigaction(SIGTERM, nullptr, &terminate);
    if (interrupt.sa_handler != SIG_IGN) ::_exit(10);
    if (terminate.sa_handler == SIG_DFL) ::_exit(11);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  INFO("child exit code (10: ignored SIGINT replaced, 11: default SIGTERM not replaced)");
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("atomic writer removes stale temporary files") {
  const fs::path folder = scratch_folder() / "stale";
  fs::create_directories(folder);
  for (const auto& entry : fs::directory_iterator(folder)) fs::remove(entry.path());
  const fs::path path = folder / "data.h5";

  // A process id that no longer exists: a child that has already been reaped.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);

  // "data.h5.tmp-HOST-" with this host's name, cut from a name this process makes.
  const std::string own_name = h5::temporary_path_for(path).filename().string();
  const std::string own_prefix = own_name.substr(0, own_name.rfind(fmt::format("-{}-", ::getpid())) + 1);
  const std::string host_part = own_prefix.substr(std::string("data.h5").size());  // ".tmp-HOST-"
  const fs::path stale = folder / fmt::format("{}{}-0", own_prefix, child);
  const fs::path running = folder / fmt::format("{}{}-0", own_prefix, ::getpid());
  const fs::path other_host = folder / fmt::format("data.h5{}2-{}-0", host_part, child);
  const fs::path other_file = folder / fmt::format("other.h5{}{}-0", host_part, child);
  const fs::path odd_suffix = folder / fmt::format("{}{}-0-1", own_prefix, child);
  for (const fs::path& file : {stale, running, other_host, other_file, odd_suffix}) std::ofstream(file) << "partial";

  {
    h5::AtomicWriter writer(path);
    const double value = 1.0;
    writer.file().write("value", {1}, &value);
    writer.commit();
  }
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(running));
  CHECK(fs::exists(other_host));
  CHECK(fs::exists(other_file));
  CHECK(fs::exists(odd_suffix));
  CHECK(fs::exists(path));
}
