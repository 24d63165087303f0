#include "lib/io/checkpoint.hpp"

#include <cmath>
#include <utility>
#include <vector>

#include "lib/core/error.hpp"
#include "lib/io/hdf5.hpp"

namespace neurop {
namespace {

constexpr const char* kFormat = "neurop-checkpoint";
constexpr std::int64_t kVersion = 1;

void write_tensor(h5::File& file, const std::string& name, const Tensor& t) {
  if (t.dtype() == DType::f32) file.write(name, t.shape(), t.data<float>());
  else file.write(name, t.shape(), t.data<double>());
}

// Reads data set `name` as a tensor of `dtype`. Throws DataError naming the file, the
// data set and the flat index of the first NaN or infinite value, because such a value
// turns every prediction and update that uses it into NaN.
Tensor read_tensor(const h5::File& file, const std::string& name, DType dtype) {
  h5::Shape shape;
  const std::vector<double> values = file.read_f64(name, &shape);
  for (std::size_t i = 0; i < values.size(); ++i) {
    NEUROP_CHECK(std::isfinite(values[i]), DataError,
                 "checkpoint '{}': '{}' contains {} at flat index {}, but every stored value must be finite; the "
                 "run that wrote it had diverged or the file is damaged, so resume from an earlier checkpoint or "
                 "retrain",
                 file.path().string(), name, values[i], i);
  }
  return Tensor::from_vector(values, shape, dtype);
}

void check_format(const h5::File& file) {
  NEUROP_CHECK(file.has_attribute("/", "format") && file.attribute_string("/", "format") == kFormat, FileError,
               "'{}' is not a neurop checkpoint (root attribute format = \"{}\" is missing)", file.path().string(),
               kFormat);
  const std::int64_t version = file.attribute_i64("/", "version");
  NEUROP_CHECK(version == kVersion, FileError, "'{}' is checkpoint version {}, this build reads version {}",
               file.path().string(), version, kVersion);
}

CheckpointInfo read_info(const h5::File& file) {
  CheckpointInfo info;
  info.epoch = file.attribute_i64("/", "epoch");
  NEUROP_CHECK(info.epoch >= 0, FileError,
               "checkpoint '{}' has epoch {}, but the epoch counts completed epochs and must be >= 0; the file was "
               "edited or is damaged, so resume from another checkpoint or retrain",
               file.path().string(), info.epoch);
  info.model = file.attribute_string("/", "model");
  if (file.exists("metadata")) {
    for (const std::string& key : file.list("metadata"))
      info.metadata[key] = file.attribute_string("metadata/" + key, "value");
  }
  return info;
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const nn::Module& module, optim::Optimizer* optimizer,
                     const CheckpointInfo& info) {
  h5::AtomicWriter writer(path);
  h5::File& file = writer.file();
  for (const auto& [name, tensor] : module.named_parameters()) write_tensor(file, "parameters/" + name, tensor);
  file.set_attribute("/", "format", std::string(kFormat));
  file.set_attribute("/", "version", kVersion);
  file.set_attribute("/", "epoch", info.epoch);
  file.set_attribute("/", "model", info.model);
  if (optimizer) {
    file.set_attribute("/", "optimizer", std::string(optimizer->name()));
    file.set_attribute("/", "optimizer_steps", optimizer->steps());
    file.set_attribute("/", "learning_rate", optimizer->learning_rate());
    const auto& state = optimizer->state();
    for (std::size_t i = 0; i < state.size(); ++i)
      for (const auto& [key, tensor] : state[i])
        if (tensor.defined()) write_tensor(file, fmt::format("optimizer/{}/{}", i, key), tensor);
  }
  for (const auto& [key, value] : info.metadata) {
    const std::int64_t marker = 0;
    file.write("metadata/" + key, {1}, &marker);
    file.set_attribute("metadata/" + key, "value", value);
  }
  writer.commit();
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  const h5::File file = h5::File::open(path);
  check_format(file);
  return read_info(file);
}

CheckpointInfo load_checkpoint(const std::filesystem::path& path, nn::Module& module, optim::Optimizer* optimizer) {
  const h5::File file = h5::File::open(path);
  check_format(file);
  // Read and check every stored value before changing the module or the optimizer, so
  // a rejected checkpoint leaves both as they were.
  std::vector<std::pair<Tensor, Tensor>> parameter_values;
  for (auto& [name, tensor] : module.named_parameters()) {
    const std::string key = "parameters/" + name;
    NEUROP_CHECK(file.exists(key), FileError,
                 "checkpoint '{}' has no parameter '{}'; it was written for a different architecture", path.string(),
                 name);
    const h5::Shape shape = file.shape(key);
    NEUROP_CHECK(shape == tensor.shape(), FileError,
                 "checkpoint '{}': parameter '{}' has shape {} but the model expects {}; the architecture options "
                 "differ from the ones the checkpoint was trained with",
                 path.string(), name, shape_string(shape), shape_string(tensor.shape()));
    parameter_values.emplace_back(tensor, read_tensor(file, key, tensor.dtype()));
  }
  std::vector<std::map<std::string, Tensor>> optimizer_state;
  std::int64_t optimizer_steps = 0;
  if (optimizer) {
    NEUROP_CHECK(file.has_attribute("/", "optimizer_steps"), FileError,
                 "checkpoint '{}' holds no optimizer state, so training cannot resume from it", path.string());
    const std::string stored_optimizer = file.attribute_string("/", "optimizer");
    NEUROP_CHECK(stored_optimizer == optimizer->name(), ValueError,
                 "checkpoint '{}' holds the state of optimizer {}, but the run uses {}; resume with the same "
                 "optimizer or start a new run",
                 path.string(), stored_optimizer, optimizer->name());
    optimizer_steps = file.attribute_i64("/", "optimizer_steps");
    NEUROP_CHECK(optimizer_steps >= 0, FileError,
                 "checkpoint '{}' has optimizer_steps = {}, but a step count must be >= 0; the file was edited or "
                 "is damaged, so resume from another checkpoint or retrain",
                 path.string(), optimizer_steps);
    optimizer_state.resize(optimizer->state().size());
    for (std::size_t i = 0; i < optimizer_state.size(); ++i) {
      const std::string group = fmt::format("optimizer/{}", i);
      if (!file.exists(group)) continue;
      const Tensor& parameter = optimizer->parameters()[i];
      for (const std::string& key : file.list(group)) {
        Tensor value = read_tensor(file, group + "/" + key, parameter.dtype());
        NEUROP_CHECK(value.shape() == parameter.shape(), FileError,
                     "checkpoint '{}': optimizer state {}/{} has shape {} but parameter {} has shape {}",
                     path.string(), group, key, shape_string(value.shape()), i, shape_string(parameter.shape()));
        optimizer_state[i][key] = value;
      }
    }
  }
  const CheckpointInfo info = read_info(file);

  for (auto& [target, value] : parameter_values) target.copy_(value);
  if (optimizer) {
    optimizer->set_steps(optimizer_steps);
    optimizer->state() = std::move(optimizer_state);
  }
  return info;
}

}  // namespace neurop
